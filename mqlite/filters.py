"""SNS subscription filter policies: validate once, compile, match.

Theory of operation
-------------------

A :class:`FilterPolicy` goes through four stages when it is built, and never again:

1. **Parse** (:mod:`mqlite._policy_json`). The policy text is decoded as JSON, keeping
   the original spelling of every number and every duplicated key (the event-ruler
   grammar SNS uses reads the document as a stream, so an error in an earlier duplicate
   still counts).
2. **Validate.** The document is walked in order with the event-ruler grammar, so the
   first violation in document order wins and its reason is SNS's text (without the
   parser-position suffix SNS appends to some of them).
   Then come SNS's own checks, in SNS's order: nesting under the ``MessageAttributes``
   scope, at most five top-level keys, at most 150 combinations.
3. **Expand.** Each recognised ``$or`` multiplies the policy into *branches* (disjunctive
   normal form); a branch maps a dotted path to the list of conditions one value at that
   path must meet. There are at most 150 branches, because the combination count bounds
   them.
4. **Compile.** Each condition becomes a small object (:mod:`mqlite._conditions`) that a
   matcher can test against one typed value, and that :class:`mqlite._filter_index.FilterIndex`
   can file in a hash map or a sorted structure.

Matching extracts the message's *fields* (path -> typed values; :mod:`mqlite._fields`) only
for the paths the policy names. A branch matches when every path is satisfied (values that
came through JSON arrays must be chosen consistently); the policy matches when any branch
does.

This module holds the validation, expansion and compilation, the evaluation of branches,
and the public :class:`FilterPolicy` and :class:`FilterPolicyError`.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator, Mapping
from typing import Any, Final, Literal

from ._attribute import Attribute
from ._conditions import (
    AnythingBut,
    Cidr,
    Condition,
    ExactNumber,
    ExactString,
    Exists,
    IgnoreCase,
    JsonLiteral,
    NumericRange,
    Prefix,
    Suffix,
    parse_cidr,
)
from ._fields import Field, Fields, attribute_fields, body_fields, parse_body, path_prefixes
from ._policy_json import (
    TOO_DEEP,
    JsonNumber,
    JsonPairs,
    PolicyInvalid,
    parse_policy_text,
    to_plain,
)
from ._validation import shown
from .errors import InvalidParameter

__all__ = [
    "MESSAGE_ATTRIBUTES",
    "MESSAGE_BODY",
    "SCOPES",
    "FilterPolicy",
    "FilterPolicyError",
]

MESSAGE_ATTRIBUTES: Final = "MessageAttributes"
MESSAGE_BODY: Final = "MessageBody"
SCOPES: Final = (MESSAGE_ATTRIBUTES, MESSAGE_BODY)

MAX_KEYS: Final = 5
MAX_COMBINATIONS: Final = 150
MAX_POLICY_BYTES: Final = 256 * 1024

# Field names that make a "$or" array an ordinary key when they appear inside it.
_RESERVED_IN_OR: Final = frozenset(
    {
        "exactly",
        "equals-ignore-case",
        "prefix",
        "suffix",
        "anything-but",
        "exists",
        "wildcard",
        "numeric",
        "cidr",
        "=",
        "<",
        "<=",
        ">",
        ">=",
        "regex",
        "not-wildcard",
        "not-equals-ignore-case",
        "date-after",
        "date-on-or-after",
        "date-before",
        "date-on-or-before",
        "in-date-range",
        "ip-address-in-range",
        "ip-address-not-in-range",
    }
)


# --- errors ---------------------------------------------------------------------------------


class FilterPolicyError(InvalidParameter):
    """A filter policy (or its scope) that SNS would reject.

    ``reason`` is SNS's bare reason text, e.g. ``"Filter policy is too complex"``;
    ``attribute`` is the subscription attribute it is about (``"FilterPolicy"``,
    ``"FilterPolicyScope"``, or ``None`` for the nesting-under-scope error, which SNS
    reports without one). The message is framed as SetSubscriptionAttributes frames it,
    ``Invalid parameter: FilterPolicy: <reason>``; :meth:`for_subscribe` gives the same
    error framed as Subscribe frames it,
    ``Invalid parameter: Attributes Reason: FilterPolicy: <reason>``.
    """

    def __init__(
        self, reason: str, *, attribute: str | None = "FilterPolicy", subscribe: bool = False
    ) -> None:
        self.reason = reason
        self.attribute = attribute
        self.subscribe = subscribe
        head = "Invalid parameter: Attributes Reason: " if subscribe else "Invalid parameter: "
        super().__init__(head + (f"{attribute}: " if attribute else "") + reason)

    def for_subscribe(self) -> FilterPolicyError:
        """The same error, framed as the Subscribe action reports it. Cost: O(1)."""
        return FilterPolicyError(self.reason, attribute=self.attribute, subscribe=True)

    def for_set_subscription_attributes(self) -> FilterPolicyError:
        """The same error, framed as SetSubscriptionAttributes reports it. Cost: O(1)."""
        return FilterPolicyError(self.reason, attribute=self.attribute, subscribe=False)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_error, (self.reason, self.attribute, self.subscribe))


def _rebuild_error(reason: str, attribute: str | None, subscribe: bool) -> FilterPolicyError:
    return FilterPolicyError(reason, attribute=attribute, subscribe=subscribe)


# --- evaluation -------------------------------------------------------------------------------

_ALWAYS: Final = True


def path_satisfied(conditions: tuple[Condition, ...], field: Field | None) -> bool:
    """Whether one path's condition list is met by *field* (None: the path is absent).

    OR within the list; a value-level condition needs one value that passes; ``exists``
    looks at presence; ``anything-but`` needs a present field with one value it does not
    exclude. Cost: O(len(conditions) * len(field.values)).
    """
    for condition in conditions:
        if isinstance(condition, Exists):
            if (field is not None and field.exists) is condition.value:
                return True
        elif field is not None:
            test = condition.test
            for value in field.values:
                if test(value):
                    return True
    return False


def _satisfying(conditions: tuple[Condition, ...], field: Field | None) -> list[int] | bool:
    """Like path_satisfied, but naming the values that satisfy (for array consistency).

    Returns True when the path is satisfied without choosing a value (``exists: false``),
    False when it is not satisfied, else the indexes of the satisfying values.
    """
    chosen: set[int] = set()
    for condition in conditions:
        if isinstance(condition, Exists) and not condition.value:
            if field is None or not field.exists:
                return _ALWAYS
            continue
        if field is None:
            continue
        for index, value in enumerate(field.values):
            if condition.test(value):
                chosen.add(index)
    return sorted(chosen) if chosen else False


class _Trail:
    """A node of the trie of array positions ((array, index) steps) that values came by."""

    __slots__ = ("arrays", "ends")

    def __init__(self) -> None:
        self.ends = 0  # bit mask of the paths with a satisfying value right here
        self.arrays: dict[int, dict[int, _Trail]] = {}


def _consistent(options: list[tuple[Field, list[int]]]) -> bool:
    """Whether one satisfying value per path can be chosen so that no two come from
    different elements of one array.

    The values' array positions form a trie. Bottom up, each trie node gets the sets of
    paths (bit masks) it can cover: its own values cover theirs; under one array only one
    element may be used, so its elements' masks are alternatives; different arrays (or
    a node's own values) are independent, so their masks combine by union. Only maximal
    masks are kept. Cost: O(satisfying values + trie nodes * 2^paths), linear in the body
    for a branch's few paths — no search over combinations.
    """
    root = _Trail()
    for bit, (field, indexes) in enumerate(options):
        assert field.arrays is not None
        for index in indexes:
            node = root
            for array, at in field.arrays[index]:
                elements = node.arrays.get(array)
                if elements is None:
                    elements = node.arrays[array] = {}
                child = elements.get(at)
                if child is None:
                    child = elements[at] = _Trail()
                node = child
            node.ends |= 1 << bit
    full = (1 << len(options)) - 1
    covers: dict[int, set[int]] = {}
    # Post-order without recursion: bodies may nest arrays deeply.
    stack: list[tuple[_Trail, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if not done:
            stack.append((node, True))
            for elements in node.arrays.values():
                stack.extend((child, False) for child in elements.values())
            continue
        masks = {node.ends}
        for elements in node.arrays.values():
            choices: set[int] = set()
            for child in elements.values():
                choices |= covers.pop(id(child))
            masks = _maximal({mine | theirs for mine in masks for theirs in choices})
            if full in masks:
                return True
        covers[id(node)] = masks
    return full in covers[id(root)]


def _maximal(masks: set[int]) -> set[int]:
    # Covering more paths is always at least as good, so drop masks inside another.
    return {m for m in masks if not any(m != o and m | o == o for o in masks)}


class Branch:
    """One disjunct of a policy: every path must be satisfied (AND across keys).

    ``items`` pairs each path with its condition list, sorted by path.
    """

    __slots__ = ("items",)

    def __init__(self, items: tuple[tuple[str, tuple[Condition, ...]], ...]) -> None:
        self.items = items

    def matches(self, fields: Fields) -> bool:
        """Whether *fields* satisfy every path, with array-consistent value choices.

        Cost: O(Σ conditions * values) over the branch's paths, plus the consistency
        search when values came through arrays.
        """
        constrained: list[tuple[Field, list[int]]] = []
        for path, conditions in self.items:
            field = fields.by_path.get(path)
            if field is None or field.arrays is None:
                if not path_satisfied(conditions, field):
                    return False
                continue
            result = _satisfying(conditions, field)
            if result is False:
                return False
            if result is not _ALWAYS:
                assert isinstance(result, list)
                constrained.append((field, result))
        return len(constrained) < 2 or _consistent(constrained)

    def __repr__(self) -> str:
        return f"Branch({dict(self.items)!r})"


# --- validation and compilation ---------------------------------------------------------------


def _token_text(value: Any) -> str:
    """What SNS's streaming parser reports as the text of the token that starts *value*."""
    if isinstance(value, JsonNumber):
        return value.text
    if isinstance(value, JsonPairs):
        return "{"
    if isinstance(value, list):
        return "["
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return str(value)


_END = object()  # the end of an array, as a token


def _numeric(operand: list[Any]) -> Condition:
    tokens = [*operand, _END]

    def token(i: int) -> Any:
        return tokens[i] if i < len(tokens) else _END

    def text(value: Any) -> str:
        return "]" if value is _END else _token_text(value)

    first = token(0)
    if type(first) is not str:
        raise PolicyInvalid(f"Invalid member in numeric match: {text(first)}")
    operator = first
    value = token(1)
    if operator not in ("=", "<", "<=", ">", ">="):
        raise PolicyInvalid(f"Unrecognized numeric range operator: {operator}")
    if not isinstance(value, JsonNumber):
        name = "equals" if operator == "=" else operator
        raise PolicyInvalid(f"Value of {name} must be numeric")
    number = float(value)
    if operator in ("=", "<", "<="):
        if token(2) is not _END:
            raise PolicyInvalid("Too many elements in numeric expression")
        if operator == "=":
            return ExactNumber(number)
        return NumericRange(-math.inf, False, number, operator == "<")
    second = token(2)
    if second is _END:
        return NumericRange(number, operator == ">", math.inf, False)
    if type(second) is not str:
        raise PolicyInvalid(f"Bad value in numeric range: {text(second)}")
    if second not in ("<", "<="):
        raise PolicyInvalid(f"Bad numeric range operator: {second}")
    top = token(3)
    if not isinstance(top, JsonNumber):
        raise PolicyInvalid(f"Value of {second} must be numeric")
    if token(4) is not _END:
        raise PolicyInvalid("Too many terms in numeric range expression")
    if float(top) <= number:
        raise PolicyInvalid("Bottom must be less than top")
    return NumericRange(number, operator == ">", float(top), second == "<")


def _anything_but(operand: Any, extra: bool) -> Condition:
    if isinstance(operand, JsonPairs):
        if not operand:
            raise PolicyInvalid("Anything-But expression name not found")
        inner, pattern = operand[0]
        if inner != "prefix":
            raise PolicyInvalid(f"Unsupported anything-but pattern: {inner}")
        if type(pattern) is not str:
            raise PolicyInvalid("prefix match pattern must be a string")
        if not pattern:
            raise PolicyInvalid("Null prefix not allowed")
        if len(operand) > 1 or extra:
            raise PolicyInvalid("Only one key allowed in match expression")
        return AnythingBut(prefix=pattern)
    if isinstance(operand, list):
        strings: set[str] = set()
        numbers: set[float] = set()
        for item in operand:
            if type(item) is str:
                strings.add(item)
            elif isinstance(item, JsonNumber):
                numbers.add(float(item))
            else:
                raise PolicyInvalid(
                    "Inside anything but list, start|null|boolean is not supported."
                )
        if bool(strings) == bool(numbers):
            raise PolicyInvalid(
                "Inside anything but list, either all values are number or string, "
                "mixed type is not supported"
            )
        condition = AnythingBut(strings=frozenset(strings), numbers=frozenset(numbers))
    elif type(operand) is str:
        condition = AnythingBut(strings=frozenset({operand}))
    elif isinstance(operand, JsonNumber):
        condition = AnythingBut(numbers=frozenset({float(operand)}))
    else:
        raise PolicyInvalid("Value of anything-but must be an array or single string/number value.")
    if extra:
        raise PolicyInvalid("Too many elements in numeric expression")
    return condition


def _string_operand(name: str, operand: Any, extra: bool) -> str:
    if type(operand) is not str:
        raise PolicyInvalid(f"{name} match pattern must be a string")
    if extra:
        raise PolicyInvalid("Only one key allowed in match expression")
    return operand


def _operator(expression: JsonPairs) -> Condition:
    """Compile one ``{"operator": operand}`` object."""
    if not expression:
        raise PolicyInvalid("Match expression name not found")
    name, operand = expression[0]
    extra = len(expression) > 1
    if name == "prefix":
        return Prefix(_string_operand("prefix", operand, extra))
    if name == "suffix":
        return Suffix(_string_operand("suffix", operand, extra))
    if name == "equals-ignore-case":
        return IgnoreCase(_string_operand("equals-ignore-case", operand, extra))
    if name == "numeric":
        if not isinstance(operand, list) or isinstance(operand, JsonPairs):
            raise PolicyInvalid("Value of numeric must be an array.")
        condition = _numeric(operand)
        if extra:
            raise PolicyInvalid("Too many elements in numeric expression")
        return condition
    if name == "anything-but":
        return _anything_but(operand, extra)
    if name == "exists":
        if type(operand) is not bool:
            raise PolicyInvalid("exists match pattern must be either true or false.")
        if extra:
            raise PolicyInvalid("Only one key allowed in match expression")
        return Exists(operand)
    if name == "cidr":
        # SNS's own (odd) wording for a non-string CIDR.
        bits, network, mask = parse_cidr(_string_operand("prefix", operand, False))
        if extra:
            raise PolicyInvalid("Only one key allowed in match expression")
        return Cidr(bits, network, mask)
    raise PolicyInvalid(f"Unrecognized match type {name}")


def _condition_list(values: list[Any]) -> tuple[Condition, ...]:
    conditions: list[Condition] = []
    for value in values:
        if isinstance(value, JsonPairs):
            conditions.append(_operator(value))
        elif type(value) is str:
            conditions.append(ExactString(value))
        elif isinstance(value, JsonNumber):
            conditions.append(ExactNumber(float(value)))
        elif value is None or type(value) is bool:
            conditions.append(JsonLiteral(value))
        else:
            raise PolicyInvalid("Match value must be String, number, true, false, or null")
    if not conditions:
        raise PolicyInvalid("Empty arrays are not allowed")
    return tuple(conditions)


def _is_or(value: Any) -> bool:
    """Whether a ``$or`` key is the OR operator (else it is an ordinary key, §5.5)."""
    if not isinstance(value, list) or isinstance(value, JsonPairs) or len(value) < 2:
        return False
    if not all(isinstance(item, JsonPairs) for item in value):
        return False
    stack: list[JsonPairs] = list(value)
    while stack:
        for key, item in stack.pop():
            if key in _RESERVED_IN_OR:
                return False
            if isinstance(item, JsonPairs):
                stack.append(item)
            elif key == "$or" and isinstance(item, list):
                stack.extend(element for element in item if isinstance(element, JsonPairs))
    return True


class _Compiled:
    """Output of one validation walk: condition lists by object identity, nesting seen, and
    the policy's *weight*: the most, over the condition lists the combination count sees
    (of duplicated keys only the last), of a list's object depth plus the ``$or``
    operators above it.

    SNS's combination count is at least the weight: a list counts its depth, a nested key
    multiplies by at least its child's count, and a ``$or`` adds at least one for its
    other alternatives. So a policy heavier than the combination limit is too complex.
    """

    def __init__(self) -> None:
        self.lists: dict[int, tuple[Condition, ...]] = {}
        self.nested = False
        self.weight = 0


# One object's pairs, each with whether the combination count sees it (the last of its key).
_Pairs = Iterator[tuple[str, Any, bool]]


def _pairs(node: JsonPairs) -> _Pairs:
    last = {key: i for i, (key, _) in enumerate(node)}
    return ((key, value, last[key] == i) for i, (key, value) in enumerate(node))


def _pairs_of(alternatives: list[JsonPairs]) -> _Pairs:
    """The pairs of each ``$or`` alternative in turn; an empty one fails when reached."""
    for alternative in alternatives:
        if not alternative:
            raise PolicyInvalid("Empty objects are not allowed")
        yield from _pairs(alternative)


def _validate(root: JsonPairs, out: _Compiled) -> None:
    """Walk an object in document order, compiling every condition list (step 2 of §5.7).

    Iterative (a stack of the objects being walked), so a policy of any depth is walked
    without recursion.
    """
    if not root:
        raise PolicyInvalid("Empty objects are not allowed")
    # (the object's pairs, its weight, whether the combination count sees it)
    stack: list[tuple[_Pairs, int, bool]] = [(_pairs(root), 1, True)]
    while stack:
        pairs, weight, counted = stack[-1]
        pair = next(pairs, None)
        if pair is None:
            stack.pop()
            continue
        key, value, last = pair
        if key == "$or" and _is_or(value):
            # The alternatives' pairs, one alternative after another, all walked before
            # this object's later keys.
            stack.append((_pairs_of(value), weight + 1, counted and last))
        elif isinstance(value, JsonPairs):
            out.nested = True
            if not value:
                raise PolicyInvalid("Empty objects are not allowed")
            stack.append((_pairs(value), weight + 1, counted and last))
        elif isinstance(value, list):
            out.lists[id(value)] = _condition_list(value)
            if counted and last:
                out.weight = max(out.weight, weight)
        else:
            raise PolicyInvalid(f'"{key}" must be an object or an array')


def _combinations(node: JsonPairs, depth: int = 1) -> int:
    """SNS's combination count: lists count their length times their depth, keys multiply,
    and the alternatives of a ``$or`` add up (§5.7 step 5)."""
    total = 1
    for key, value in dict(node).items():
        if key == "$or" and _is_or(value):
            total *= sum(_combinations(alternative, depth) for alternative in value)
        elif isinstance(value, JsonPairs):
            total *= _combinations(value, depth + 1)
        else:
            total *= len(value) * depth
    return total


def _expand(
    node: JsonPairs,
    prefix: str,
    branches: list[dict[str, tuple[Condition, ...]]],
    compiled: _Compiled,
) -> None:
    """Expand ``$or`` into branches, in document order; a later key at the same path
    replaces an earlier one, as in SNS's compiler."""
    for key, value in node:
        if key == "$or" and _is_or(value):
            current = [dict(branch) for branch in branches] or [{}]
            branches.clear()
            for alternative in value:
                forked = [dict(branch) for branch in current]
                _expand(alternative, prefix, forked, compiled)
                branches.extend(forked)
        elif isinstance(value, JsonPairs):
            _expand(value, f"{prefix}{key}.", branches, compiled)
        else:
            if not branches:
                branches.append({})
            conditions = compiled.lists[id(value)]
            for branch in branches:
                branch[prefix + key] = conditions


def _compile(text: str, scope: str) -> tuple[tuple[Branch, ...], Any]:
    """Validate *text* as SNS does and compile it; returns (branches, plain policy dict).

    Raises:
        FilterPolicyError: the first rule of §5.7 the policy breaks.
    """
    try:
        if len(text) > MAX_POLICY_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > (
            MAX_POLICY_BYTES
        ):
            raise PolicyInvalid("Filter policy can not be larger than 256 KB")
        root = parse_policy_text(text)
        if not isinstance(root, JsonPairs):
            raise PolicyInvalid("Filter is not an object")
        compiled = _Compiled()
        _validate(root, compiled)
    except PolicyInvalid as exc:
        raise FilterPolicyError(exc.reason) from None
    if compiled.nested and scope == MESSAGE_ATTRIBUTES:
        raise FilterPolicyError(
            "Filter policy scope MessageAttributes does not support nested filter policy",
            attribute=None,
        )
    if len(dict(root)) > MAX_KEYS:
        raise FilterPolicyError(f"Filter policy can not have more than {MAX_KEYS} keys")
    # Too heavy is too complex without counting: the count and the expansion recurse, so
    # only policies at most MAX_COMBINATIONS deep reach them (bar deep objects hidden
    # behind a later duplicate key, which the count skips: those can still be too deep
    # to expand, and are too complex then).
    if compiled.weight > MAX_COMBINATIONS:
        raise FilterPolicyError("Filter policy is too complex")
    expanded: list[dict[str, tuple[Condition, ...]]] = []
    try:
        if _combinations(root) > MAX_COMBINATIONS:
            raise FilterPolicyError("Filter policy is too complex")
        _expand(root, "", expanded, compiled)
    except RecursionError:
        raise FilterPolicyError("Filter policy is too complex") from None
    branches = tuple(Branch(tuple(sorted(branch.items()))) for branch in expanded)
    # The plain copy keeps huge integer literals as floats rather than failing on them.
    return branches, json.loads(text, parse_int=_plain_int)


def _plain_int(text: str) -> int | float:
    return int(text) if len(text) < 4000 else float(text)


def check_scope(scope: object) -> str:
    """Return *scope* if it is a valid FilterPolicyScope.

    Raises:
        FilterPolicyError: SNS's FilterPolicyScope message.
    """
    if scope not in SCOPES:
        raise FilterPolicyError(
            f"Invalid value [{shown(scope)}]. Please use either MessageBody or MessageAttributes",
            attribute="FilterPolicyScope",
        )
    assert isinstance(scope, str)
    return scope


# --- the public type --------------------------------------------------------------------------


class FilterPolicy:
    """One SNS subscription filter policy, validated and compiled once.

    ``policy`` is JSON text or a mapping of the same shape; ``scope`` is
    ``"MessageAttributes"`` (the default) or ``"MessageBody"``. Validation follows SNS,
    with SNS's error texts: every rule of the filter-policy grammar, at most five top-level
    keys, at most 150 combinations, nesting only in the ``MessageBody`` scope. The empty
    string is not a policy: SNS uses ``""`` to *remove* a policy, which callers handle
    before building one.

    Instances are immutable, hashable and compare equal when their parsed policies (key
    order aside) and scopes are equal.

    Cost: O(size of the policy) to build.

    Raises:
        FilterPolicyError: the policy or the scope is invalid; the message is framed as
            SetSubscriptionAttributes frames it (see :meth:`FilterPolicyError.for_subscribe`).
        TypeError: *policy* is neither ``str`` nor a mapping, or holds non-JSON values.
    """

    __slots__ = ("_branches", "_canonical", "_json", "_paths", "_plain", "_prefixes", "_scope")

    def __init__(self, policy: str | Mapping[str, Any], scope: str = MESSAGE_ATTRIBUTES) -> None:
        self._scope = check_scope(scope)
        if isinstance(policy, str):
            text = policy
        elif isinstance(policy, Mapping):
            try:
                text = json.dumps(to_plain(policy))
            except RecursionError:  # nested past what JSON encoding (and parsing) allows
                raise FilterPolicyError(TOO_DEEP) from None
        else:
            raise TypeError(f"a filter policy is a str or a mapping, not {type(policy).__name__}")
        self._json = text
        self._branches, self._plain = _compile(text, self._scope)
        self._canonical = json.dumps(self._plain, sort_keys=True, separators=(",", ":"))
        self._paths = frozenset(path for branch in self._branches for path, _ in branch.items)
        self._prefixes = path_prefixes(self._paths)

    @staticmethod
    def check_scope(scope: object) -> str:
        """Return *scope* if it is a valid FilterPolicyScope, for setting the scope alone.

        Cost: O(1).

        Raises:
            FilterPolicyError: ``Invalid parameter: FilterPolicyScope: Invalid value [...]``.
        """
        return check_scope(scope)

    @property
    def policy(self) -> dict[str, Any]:
        """The parsed policy (a fresh deep copy; changing it changes nothing here)."""
        plain: dict[str, Any] = copy.deepcopy(self._plain)
        return plain

    @property
    def policy_json(self) -> str:
        """The policy text: as given when a str was passed, else ``json.dumps`` of the mapping."""
        return self._json

    @property
    def scope(self) -> Literal["MessageAttributes", "MessageBody"]:
        """``"MessageAttributes"`` or ``"MessageBody"``."""
        return self._scope  # type: ignore[return-value]

    @property
    def branches(self) -> tuple[Branch, ...]:
        """The compiled branches (one per combination of ``$or`` alternatives)."""
        return self._branches

    @property
    def paths(self) -> frozenset[str]:
        """Every dotted path the policy names, across all branches."""
        return self._paths

    def with_scope(self, scope: str) -> FilterPolicy:
        """The same policy text validated under another scope.

        Cost: as ``FilterPolicy(...)``: O(size of the policy).

        Raises:
            FilterPolicyError: the scope is invalid, or the policy is not valid under it.
        """
        return FilterPolicy(self._json, scope)

    def fields(
        self, *, attributes: Mapping[str, Attribute] | None = None, body: str | None = None
    ) -> Fields | None:
        """The message's fields this policy looks at, or None when it can never match
        (no filterable attribute; a body that is not a JSON object or has no leaf).

        Cost: O(attributes) on the attribute scope, O(body) on the body scope.
        """
        if self._scope == MESSAGE_ATTRIBUTES:
            fields = attribute_fields(attributes, self._paths)
        else:
            root = parse_body(body)
            if root is None:
                return None
            fields = body_fields(root, self._paths, self._prefixes)
        return fields if fields.has_input() else None

    def matches(
        self, *, attributes: Mapping[str, Attribute] | None = None, body: str | None = None
    ) -> bool:
        """Whether a message with these *attributes* and this *body* passes the policy.

        A ``MessageAttributes`` policy looks only at *attributes*, a ``MessageBody`` policy
        only at *body* (which must be a JSON object). A message with no filterable
        attribute (or a body with no value) never matches.

        Cost: O(size of the attributes, or of the body) plus O(Σ conditions * values)
        over the branches; this tests one policy — use FilterIndex for many.
        """
        fields = self.fields(attributes=attributes, body=body)
        if fields is None:
            return False
        return any(branch.matches(fields) for branch in self._branches)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FilterPolicy):
            return NotImplemented
        return self._canonical == other._canonical and self._scope == other._scope

    def __hash__(self) -> int:
        return hash((self._canonical, self._scope))

    def __repr__(self) -> str:
        return f"FilterPolicy({self._json!r}, scope={self._scope!r})"
