"""FilterPolicy: matching and validation, table-driven.

Each matching case is (policy, scope, message, expected); each validation case is
(policy, scope, expected SNS message). Case ids follow the scenario ids of the SNS spec
where it names one (EX-, PF-, SF-, IC-, NU-, AB-, XS-, IP-, AO-, EB-, VE-, VA-).
"""

from __future__ import annotations

import copy
import itertools
import json
import pickle
import re
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from mqlite._attribute import Attribute
from mqlite.errors import InvalidParameter
from mqlite.filters import FilterPolicy, FilterPolicyError

ATTRS = "MessageAttributes"
BODY = "MessageBody"


def S(value: str) -> Attribute:
    return Attribute("String", value)


def N(value: str) -> Attribute:
    return Attribute("Number", value)


def SA(values: list[Any]) -> Attribute:
    return Attribute("String.Array", json.dumps(values))


def BIN(value: bytes) -> Attribute:
    return Attribute("Binary", value)


OTHER = {"other": S("present")}  # keeps a message non-empty when the key under test is absent


def attrs(**values: Attribute) -> dict[str, Any]:
    return {"attributes": values}


def body(value: Any) -> dict[str, Any]:
    return {"body": value if isinstance(value, str) else json.dumps(value)}


def case(id_: str, policy: Any, message: dict[str, Any], expected: bool, scope: str = ATTRS) -> Any:
    return pytest.param(policy, scope, message, expected, id=id_)


# --- matching ---------------------------------------------------------------------------------

EXACT = [
    case("EX-01 exact string", {"a": ["x"]}, attrs(a=S("x")), True),
    case("EX-02 case-sensitive", {"a": ["x"]}, attrs(a=S("X")), False),
    case("EX-03 whole value only", {"a": ["x"]}, attrs(a=S("xy")), False),
    case("EX-04 key absent", {"a": ["x"]}, attrs(**OTHER), False),
    case("EX-05 OR within the list", {"a": ["x", "y"]}, attrs(a=S("y")), True),
    case("EX-06 none of the list", {"a": ["x", "y"]}, attrs(a=S("z")), False),
    case("EX-07 other attributes ignored", {"a": ["x"]}, attrs(a=S("x"), b=S("q")), True),
    case("EX-08 no JSON decoding of String", {"a": ["rugby"]}, attrs(a=S('["rugby"]')), False),
    case("EX-09 no substring match", {"a": ["tennis"]}, attrs(a=S('"tennis court"')), False),
    case("EX-09b no substring match", {"a": ["tennis"]}, attrs(a=S("tennis court")), False),
    case("EX-09c object text is a string", {"a": ["rugby"]}, attrs(a=S('{"rugby":1}')), False),
    case("EX-10 Binary ignored", {"a": ["x"]}, attrs(a=BIN(b"x"), **OTHER), False),
    case("EX-11 string vs Number", {"a": ["100"]}, attrs(a=N("100")), False),
    case("EX-12 number vs String", {"a": [100]}, attrs(a=S("100")), False),
    case("EX-13 number equal", {"a": [100]}, attrs(a=N("100")), True),
    case("EX-14 number numerically equal", {"a": [100]}, attrs(a=N("100.0")), True),
    case("EX-14b exponent spelling", {"a": [100]}, attrs(a=N("1e2")), True),
    case("EX-14c exponent in policy", {"a": [301.5]}, attrs(a=N("3.015e2")), True),
    case("EX-15 number differs", {"a": [100]}, attrs(a=N("101")), False),
    case("EX-16 String.Array element", {"a": ["x"]}, attrs(a=SA(["y", "x"])), True),
    case("EX-16b String.Array without it", {"a": ["x"]}, attrs(a=SA(["y"])), False),
    case("EX-17 number vs mixed array", {"a": [5]}, attrs(a=SA(["x", 5])), True),
    case("EX-17b string vs number element", {"a": ["5"]}, attrs(a=SA([5])), False),
    case("EX-18 true element", {"a": [True]}, attrs(a=SA([True])), True),
    case("EX-18b String 'true' is not true", {"a": [True]}, attrs(a=S("true")), False),
    case("EX-19 false element", {"a": [False]}, attrs(a=SA([False, "x"])), True),
    case("EX-19b true is not 1", {"a": [1]}, attrs(a=SA([True])), False),
    case("EX-19c 1 is not true", {"a": [True]}, attrs(a=SA([1])), False),
    case("EX-20 null never matches absence", {"a": [None]}, attrs(**OTHER), False),
    case("EX-21 null element", {"a": [None]}, attrs(a=SA([None])), True),
    case("EX-22 double-escaped quotes", {"a": ['say \\"hi\\"']}, attrs(a=S('say "hi"')), True),
    case("EX-22b unescaped quotes", {"a": ['say "hi"']}, attrs(a=S('say "hi"')), False),
    case("EX-23 double-escaped backslash", {"a": ["a\\\\b"]}, attrs(a=S("a\\b")), True),
    case("EX-23b single backslash", {"a": ["a\\b"]}, attrs(a=S("a\\b")), False),
    case("EX-24 String.Array not escaped", {"a": ['say "hi"']}, attrs(a=SA(['say "hi"'])), True),
    case("EX-25 custom String type", {"a": ["x"]}, attrs(a=Attribute("String.tag", "x")), True),
    case("EX-26 custom Number type", {"a": [7]}, attrs(a=Attribute("Number.int", "7")), True),
    case(
        "EX-27 String.Array of a scalar",
        {"a": ["x"]},
        attrs(a=Attribute("String.Array", '"x"')),
        True,
    ),
    case(
        "EX-28 unparsable String.Array",
        {"a": ["x"]},
        attrs(a=Attribute("String.Array", "[x")),
        False,
    ),
    case(
        "EX-29 equivalent IPv6 spelling",
        {"a": ["2001:db8::1"]},
        attrs(a=S("2001:0db8:0:0:0:0:0:1")),
        True,
    ),
    case("EX-30 empty string", {"a": [""]}, attrs(a=SA([""])), True),
]

PREFIX_SUFFIX_CASE = [
    case("PF-01 prefix", {"a": [{"prefix": "ab"}]}, attrs(a=S("abc")), True),
    case("PF-02 prefix elsewhere", {"a": [{"prefix": "ab"}]}, attrs(a=S("xab")), False),
    case("PF-03 numbers never match", {"a": [{"prefix": "12"}]}, attrs(a=N("123")), False),
    case("PF-04 whole value", {"a": [{"prefix": "abc"}]}, attrs(a=S("abc")), True),
    case("PF-05 String.Array", {"a": [{"prefix": "ab"}]}, attrs(a=SA(["zz", "abx"])), True),
    case("PF-06 empty prefix", {"a": [{"prefix": ""}]}, attrs(a=S("q")), True),
    case("SF-01 suffix", {"a": [{"suffix": ".png"}]}, attrs(a=S("cat.png")), True),
    case("SF-02 suffix elsewhere", {"a": [{"suffix": ".png"}]}, attrs(a=S("png.cat")), False),
    case("SF-03 longer than value", {"a": [{"suffix": "xcat.png"}]}, attrs(a=S("cat.png")), False),
    case("SF-04 String.Array", {"a": [{"suffix": ".png"}]}, attrs(a=SA(["a.jpg", "b.png"])), True),
    case(
        "IC-01 ignore case", {"a": [{"equals-ignore-case": "tennis"}]}, attrs(a=S("TeNnIs")), True
    ),
    case(
        "IC-02 upper-case policy",
        {"a": [{"equals-ignore-case": "TENNIS"}]},
        attrs(a=S("tennis")),
        True,
    ),
    case(
        "IC-03 still whole value",
        {"a": [{"equals-ignore-case": "tennis"}]},
        attrs(a=S("tennis!")),
        False,
    ),
    case("IC-05 numbers never match", {"a": [{"equals-ignore-case": "5"}]}, attrs(a=N("5")), False),
    case(
        "IC-06 sharp s upper-cases to SS",
        {"a": [{"equals-ignore-case": "straße"}]},
        attrs(a=S("STRASSE")),
        True,
    ),
    case(
        "IC-07 but ss is not ß",
        {"a": [{"equals-ignore-case": "straße"}]},
        attrs(a=S("strasse")),
        False,
    ),
    case(
        "IC-08 dotless i upper-cases to I",
        {"a": [{"equals-ignore-case": "\u0131"}]},
        attrs(a=S("I")),
        True,
    ),
    case(
        "IC-09 non-ASCII letters", {"a": [{"equals-ignore-case": "ÉTÉ"}]}, attrs(a=S("été")), True
    ),
]

NUMERIC = [
    case("NU-01 range inside", {"a": [{"numeric": [">", 0, "<=", 100]}]}, attrs(a=N("99")), True),
    case("NU-02 range above", {"a": [{"numeric": [">", 0, "<=", 100]}]}, attrs(a=N("111")), False),
    case("NU-03 closed top", {"a": [{"numeric": [">", 0, "<=", 100]}]}, attrs(a=N("100")), True),
    case("NU-04 open bottom", {"a": [{"numeric": [">", 0, "<=", 100]}]}, attrs(a=N("0")), False),
    case("NU-05 strings never match", {"a": [{"numeric": [">", 0]}]}, attrs(a=S("50")), False),
    case("NU-06 equals", {"a": [{"numeric": ["=", 5]}]}, attrs(a=N("5.0")), True),
    case("NU-07 >= edge", {"a": [{"numeric": [">=", 5]}]}, attrs(a=N("5")), True),
    case("NU-08 > edge", {"a": [{"numeric": [">", 5]}]}, attrs(a=N("5")), False),
    case("NU-09 <", {"a": [{"numeric": ["<", 5]}]}, attrs(a=N("4.99999")), True),
    case("NU-10 <= edge", {"a": [{"numeric": ["<=", 5]}]}, attrs(a=N("5")), True),
    case("NU-11 negative", {"a": [{"numeric": ["<", 0]}]}, attrs(a=N("-10")), True),
    case(
        "NU-12 body string is no number",
        {"a": [{"numeric": [">", 1]}]},
        body({"a": "150"}),
        False,
        BODY,
    ),
    case("NU-13 body number", {"a": [{"numeric": [">", 1]}]}, body({"a": 2}), True, BODY),
    case(
        "NU-14 String.Array element", {"a": [{"numeric": [">", 100]}]}, attrs(a=SA([1, 200])), True
    ),
    case(
        "NU-15 body array element",
        {"a": [{"numeric": [">", 100]}]},
        body({"a": [1, 200]}),
        True,
        BODY,
    ),
    case("NU-16 beyond 1e9", {"a": [{"numeric": [">", 1e10]}]}, attrs(a=N("2e10")), True),
    case("NU-17 half-open range", {"a": [{"numeric": [">=", 1, "<", 2]}]}, attrs(a=N("2")), False),
]

ANYTHING_BUT = [
    case("AB-01 other value", {"a": [{"anything-but": "x"}]}, attrs(a=S("y")), True),
    case("AB-02 excluded value", {"a": [{"anything-but": "x"}]}, attrs(a=S("x")), False),
    case("AB-03 needs the key", {"a": [{"anything-but": "x"}]}, attrs(**OTHER), False),
    case(
        "AB-04 one element not listed",
        {"a": [{"anything-but": ["rugby", "tennis"]}]},
        attrs(a=SA(["rugby", "baseball"])),
        True,
    ),
    case(
        "AB-04b every element listed",
        {"a": [{"anything-but": ["rugby", "tennis"]}]},
        attrs(a=SA(["rugby", "tennis"])),
        False,
    ),
    case(
        "AB-05 null or anything-but, no attributes",
        {"attr1": [None, {"anything-but": "whatever"}]},
        attrs(),
        False,
    ),
    case(
        "AB-05b null or anything-but, key absent",
        {"attr1": [None, {"anything-but": "whatever"}]},
        attrs(**OTHER),
        False,
    ),
    case(
        "AB-06 body list with one other",
        {"a": [{"anything-but": "x"}]},
        body({"a": ["x", "y"]}),
        True,
        BODY,
    ),
    case(
        "AB-07 body list all excluded",
        {"a": [{"anything-but": "x"}]},
        body({"a": ["x"]}),
        False,
        BODY,
    ),
    case("AB-08 numeric excluded", {"a": [{"anything-but": [100]}]}, attrs(a=N("100")), False),
    case("AB-09 numeric not excluded", {"a": [{"anything-but": [100]}]}, attrs(a=N("101")), True),
    case(
        "AB-10 strings are not excluded by numbers",
        {"a": [{"anything-but": [100]}]},
        attrs(a=S("100")),
        True,
    ),
    case(
        "AB-11 numbers are not excluded by strings",
        {"a": [{"anything-but": ["100"]}]},
        attrs(a=N("100")),
        True,
    ),
    case(
        "AB-12 Number.Array doc example",
        {"a": [{"anything-but": [100, 500]}]},
        attrs(a=Attribute("Number.Array", "[100, 50]")),
        True,
    ),
    case(
        "AB-13 prefix excluded",
        {"a": [{"anything-but": {"prefix": "abc"}}]},
        attrs(a=S("abcd")),
        False,
    ),
    case(
        "AB-14 prefix not excluded",
        {"a": [{"anything-but": {"prefix": "abc"}}]},
        attrs(a=S("xabc")),
        True,
    ),
    case(
        "AB-15 prefix never excludes numbers",
        {"a": [{"anything-but": {"prefix": "1"}}]},
        attrs(a=N("1")),
        True,
    ),
    case("AB-16 single number", {"a": [{"anything-but": 5}]}, attrs(a=SA([5, 6])), True),
    case(
        "AB-17 numerically equal excluded", {"a": [{"anything-but": 5}]}, attrs(a=N("5.0")), False
    ),
    case(
        "AB-18 empty String.Array has no value",
        {"a": [{"anything-but": "x"}]},
        attrs(a=SA([])),
        False,
    ),
    case("AB-19 null is a value", {"a": [{"anything-but": "x"}]}, body({"a": None}), True, BODY),
    case(
        "AB-21 anything-but or absent",
        {"a": [{"anything-but": "x"}, {"exists": False}]},
        attrs(**OTHER),
        True,
    ),
    case("AB-22 value or absent", {"a": ["a", {"exists": False}]}, attrs(**OTHER), True),
    case(
        "AB-23 value or absent, excluded",
        {"a": [{"anything-but": "x"}, {"exists": False}]},
        attrs(a=S("x")),
        False,
    ),
]

EXISTS = [
    case("XS-01 exists true", {"a": [{"exists": True}]}, attrs(a=S("x")), True),
    case("XS-02 exists true, absent", {"a": [{"exists": True}]}, attrs(**OTHER), False),
    case("XS-03 exists false, absent", {"a": [{"exists": False}]}, attrs(**OTHER), True),
    case("XS-04 exists false, present", {"a": [{"exists": False}]}, attrs(a=N("99")), False),
    case("XS-05 exists false, no attributes", {"a": [{"exists": False}]}, attrs(), False),
    case(
        "XS-06 Binary is absent", {"a": [{"exists": False}]}, attrs(a=BIN(b"\x01"), **OTHER), True
    ),
    case(
        "XS-07 Binary is not present",
        {"a": [{"exists": True}]},
        attrs(a=BIN(b"\x01"), **OTHER),
        False,
    ),
    case(
        "XS-08 only Binary is empty input", {"a": [{"exists": False}]}, attrs(b=BIN(b"\x01")), False
    ),
    case(
        "XS-09 Number present",
        {"store": [{"exists": True}]},
        attrs(store=N("99"), other=N("99")),
        True,
    ),
    case(
        "XS-10 body null is not a value", {"a": [{"exists": True}]}, body({"a": None}), False, BODY
    ),
    case("XS-11 body empty array", {"a": [{"exists": True}]}, body({"a": [], "b": 1}), False, BODY),
    case("XS-12 body leaf", {"a": [{"exists": True}]}, body({"a": 0}), True, BODY),
    case(
        "XS-13 body object is no leaf",
        {"a": [{"exists": True}]},
        body({"a": {"b": 1}}),
        False,
        BODY,
    ),
    case(
        "XS-14 exists false on an object",
        {"a": [{"exists": False}]},
        body({"a": {"b": 1}}),
        True,
        BODY,
    ),
    case("XS-15 exists false, empty body", {"a": [{"exists": False}]}, body({}), False, BODY),
    case(
        "XS-16 exists false, body without leaves",
        {"a": [{"exists": False}]},
        body({"b": []}),
        False,
        BODY,
    ),
    case(
        "XS-17 exists false, null leaf counts as input",
        {"a": [{"exists": False}]},
        body({"b": None}),
        True,
        BODY,
    ),
    case(
        "XS-18 exists false, null value",
        {"a": [{"exists": False}]},
        body({"a": None, "b": 1}),
        True,
        BODY,
    ),
    case("XS-19 empty String.Array is present", {"a": [{"exists": True}]}, attrs(a=SA([])), True),
    case(
        "XS-20 unparsable String.Array is present",
        {"a": [{"exists": True}]},
        attrs(a=Attribute("String.Array", "[x")),
        True,
    ),
]

CIDR = [
    case("IP-01 inside", {"a": [{"cidr": "10.0.0.0/24"}]}, attrs(a=S("10.0.0.255")), True),
    case("IP-02 outside", {"a": [{"cidr": "10.0.0.0/24"}]}, attrs(a=S("10.0.1.0")), False),
    case("IP-03 not an address", {"a": [{"cidr": "10.0.0.0/24"}]}, attrs(a=S("10.0.0.256")), False),
    case(
        "IP-04 not an address at all", {"a": [{"cidr": "10.0.0.0/24"}]}, attrs(a=S("hello")), False
    ),
    case("IP-05 host bits ignored", {"a": [{"cidr": "10.0.0.5/24"}]}, attrs(a=S("10.0.0.9")), True),
    case(
        "IP-06 IPv6 inside", {"a": [{"cidr": "2001:db8::/32"}]}, attrs(a=S("2001:db8:1::1")), True
    ),
    case(
        "IP-07 IPv6 outside", {"a": [{"cidr": "2001:db8::/32"}]}, attrs(a=S("2001:db9::1")), False
    ),
    case(
        "IP-08 IPv4 value, IPv6 network", {"a": [{"cidr": "::/1"}]}, attrs(a=S("10.0.0.1")), False
    ),
    case("IP-09 numbers never match", {"a": [{"cidr": "0.0.0.0/0"}]}, attrs(a=N("1")), False),
    case(
        "IP-10 String.Array element",
        {"a": [{"cidr": "10.0.0.0/8"}]},
        attrs(a=SA(["x", "10.9.9.9"])),
        True,
    ),
    case(
        "IP-11 /0 is everything",
        {"a": [{"cidr": "0.0.0.0/0"}]},
        attrs(a=S("255.255.255.255")),
        True,
    ),
    case(
        "IP-12 body value",
        {"a": [{"cidr": "192.168.0.0/16"}]},
        body({"a": "192.168.3.4"}),
        True,
        BODY,
    ),
]

COMBINATORS = [
    case("AND-01 both keys", {"a": ["x"], "b": ["y"]}, attrs(a=S("x"), b=S("y")), True),
    case("AND-02 one key missing", {"a": ["x"], "b": ["y"]}, attrs(a=S("x")), False),
    case(
        "AND-03 mixed operators",
        {"a": ["q", {"prefix": "zz"}, {"numeric": [">", 10]}]},
        attrs(a=N("11")),
        True,
    ),
    case("AO-01 first alternative", {"$or": [{"a": ["x"]}, {"b": ["y"]}]}, attrs(a=S("x")), True),
    case("AO-02 second alternative", {"$or": [{"a": ["x"]}, {"b": ["y"]}]}, attrs(b=S("y")), True),
    case("AO-03 neither", {"$or": [{"a": ["x"]}, {"b": ["y"]}]}, attrs(a=S("y"), b=S("x")), False),
    case(
        "AO-04 AND with an OR",
        {
            "source": ["aws.cloudwatch"],
            "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
        },
        attrs(source=S("aws.cloudwatch"), namespace=S("AWS/EC2")),
        True,
    ),
    case(
        "AO-05 AND part fails",
        {
            "source": ["aws.cloudwatch"],
            "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
        },
        attrs(source=S("aws.events"), namespace=S("AWS/EC2")),
        False,
    ),
    case(
        "AO-06 nested $or",
        {"a": ["1"], "$or": [{"b": ["2"]}, {"c": ["3"], "$or": [{"d": ["4"]}, {"e": ["5"]}]}]},
        attrs(a=S("1"), c=S("3"), e=S("5")),
        True,
    ),
    case(
        "AO-07 nested $or, inner fails",
        {"a": ["1"], "$or": [{"b": ["2"]}, {"c": ["3"], "$or": [{"d": ["4"]}, {"e": ["5"]}]}]},
        attrs(a=S("1"), c=S("3"), f=S("5")),
        False,
    ),
    case(
        "AO-08 $or with reserved names is a key",
        {"$or": [{"prefix": "abc"}, {"suffix": "xyz"}]},
        attrs(**{"$or": S("abcq")}),
        True,
    ),
    case("AO-09 $or of strings is a key", {"$or": ["a", "b"]}, attrs(**{"$or": S("b")}), True),
    case(
        "AO-10 alternative replaces an earlier key",
        {"a": ["x"], "$or": [{"a": ["y"]}, {"b": ["z"]}]},
        attrs(a=S("y")),
        True,
    ),
    case(
        "AO-10b ... or keeps it",
        {"a": ["x"], "$or": [{"a": ["y"]}, {"b": ["z"]}]},
        attrs(a=S("x"), b=S("z")),
        True,
    ),
    case(
        "AO-10c ... but not alone",
        {"a": ["x"], "$or": [{"a": ["y"]}, {"b": ["z"]}]},
        attrs(a=S("x")),
        False,
    ),
    case(
        "AO-11 $or with exists false",
        {"$or": [{"a": [{"exists": False}]}, {"b": ["1"]}]},
        attrs(c=S("1")),
        True,
    ),
]

OR_BODY_POLICY = {
    "$or": [
        {"metricName": ["CPUUtilization", "ReadLatency"]},
        {"namespace": ["AWS/EC2", "AWS/ES"]},
    ],
    "detail": {
        "scope": ["Service"],
        "$or": [{"source": ["aws.cloudwatch"]}, {"type": ["CloudWatch Alarm State Change"]}],
    },
}
OR_BODY_MESSAGES = [
    (
        {
            "metricName": "CPUUtilization",
            "detail": {"scope": "aws.cloudwatch", "type": "CloudWatch Alarm State Change"},
        },
        False,
    ),
    (
        {"metricName": "CPUUtilization", "detail": {"scope": "Service", "type": "CPUUtilization"}},
        False,
    ),
    ({"metricName": "CPUUtilization", "detail": {"type": "CloudWatch Alarm State Change"}}, False),
    ({"metricName": "CPUUtilization", "detail": {"scope": "Service"}}, False),
    ({"metricName": "CPUUtilization", "scope": "Service"}, False),
    (
        {
            "metricName": "CPUUtilization",
            "detail": {"scope": "Service", "source": "aws.cloudwatch"},
        },
        True,
    ),
    (
        {"metricName": "ReadLatency", "detail": {"scope": "Service", "source": "aws.cloudwatch"}},
        True,
    ),
    ({"namespace": "AWS/EC2", "detail": {"scope": "Service", "source": "aws.cloudwatch"}}, True),
    ({"namespace": "AWS/ES", "detail": {"scope": "Service", "source": "aws.cloudwatch"}}, True),
    (
        {
            "metricName": "CPUUtilization",
            "detail": {"scope": "Service", "type": "CloudWatch Alarm State Change"},
        },
        True,
    ),
    (
        {
            "metricName": "AWS/EC2",
            "detail": {"scope": "Service", "type": "CloudWatch Alarm State Change"},
        },
        False,
    ),
    (
        {
            "namespace": "CPUUtilization",
            "detail": {"scope": "Service", "type": "CloudWatch Alarm State Change"},
        },
        False,
    ),
]

NESTED_POLICY = {
    "object": {"key": [{"prefix": "auto-"}, "hardcodedvalue"], "nested_key": [{"exists": False}]},
    "test": [{"exists": False}],
}
S3_POLICY = {
    "Records": {
        "s3": {"object": {"key": [{"prefix": "auto-"}]}},
        "eventName": [{"prefix": "ObjectCreated:"}],
    }
}


def _s3(event_name: str, key: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": event_name,
                "s3": {"bucket": {"name": "b"}, "object": {"key": key, "size": 17}},
            }
        ]
    }


S3_MULTIPLE = {
    "Records": [
        {"eventName": "ObjectCreated:Put", "s3": {"object": [[{"key": "auto-1.xml", "size": 17}]]}},
        {"eventName": "ObjectRemoved:Delete", "s3": {"object": {"key": "home-1.xml"}}},
    ]
}

BODY_CASES = [
    case("EB-01 nested key", NESTED_POLICY, body({"object": {"key": "auto-test"}}), True, BODY),
    case(
        "EB-02 nested literal",
        NESTED_POLICY,
        body({"object": {"key": "hardcodedvalue"}}),
        True,
        BODY,
    ),
    case(
        "EB-03 nested mismatch", NESTED_POLICY, body({"object": {"key": "test-auto"}}), False, BODY
    ),
    case(
        "EB-04 top-level exists false",
        NESTED_POLICY,
        body({"object": {"key": "auto-test"}, "test": "just-exists"}),
        False,
        BODY,
    ),
    case(
        "EB-05 nested exists false",
        NESTED_POLICY,
        body({"object": {"key": "auto-test", "nested_key": "x"}}),
        False,
        BODY,
    ),
    case(
        "EB-06 wrong nesting", NESTED_POLICY, body({"object": {"test": "auto-test"}}), False, BODY
    ),
    case("EB-06b only the absent key", NESTED_POLICY, body({"test": "auto-test"}), False, BODY),
    case("EB-07 null literal", {"a": [None]}, body({"a": None}), True, BODY),
    case("EB-08 plain text body", {"a": ["x"]}, body("Regular string message"), False, BODY),
    case(
        "EB-09 JSON string body",
        {"a": ["x"]},
        body(json.dumps("Regular string message")),
        False,
        BODY,
    ),
    case("EB-10 JSON array body", {"a": ["x"]}, body(json.dumps([{"a": "x"}])), False, BODY),
    case("EB-11 invalid JSON body", {"a": ["x"]}, body('{"a": "x"'), False, BODY),
    case("EB-12 NaN is not JSON", {"a": [{"exists": True}]}, body('{"a": NaN}'), False, BODY),
    case(
        "EB-13 dotted policy key",
        {"object.nested": ["string.value"]},
        body({"object": {"nested": "string.value"}}),
        True,
        BODY,
    ),
    case(
        "EB-14 dotted body key",
        {"object.nested": ["string.value"]},
        body({"object.nested": "string.value"}),
        True,
        BODY,
    ),
    case(
        "EB-15 dotted mismatch",
        {"object.nested": ["string.value"]},
        body({"object": {"nested": "test-auto"}}),
        False,
        BODY,
    ),
    case(
        "EB-16 deep dots 1",
        {"object.nested.test": ["v"]},
        body({"object": {"nested": {"test": "v"}}}),
        True,
        BODY,
    ),
    case(
        "EB-16b deep dots 2",
        {"object.nested.test": ["v"]},
        body({"object.nested.test": "v"}),
        True,
        BODY,
    ),
    case(
        "EB-16c deep dots 3",
        {"object.nested.test": ["v"]},
        body({"object.nested": {"test": "v"}}),
        True,
        BODY,
    ),
    case(
        "EB-16d deep dots 4",
        {"object.nested.test": ["v"]},
        body({"object": {"nested.test": "v"}}),
        True,
        BODY,
    ),
    case(
        "EB-17 array of values",
        {"headers": {"route-to": ["queue1"]}},
        body({"headers": {"route-to": ["queue1", "queue2"]}}),
        True,
        BODY,
    ),
    case(
        "EB-17b array without it",
        {"headers": {"route-to": ["queue1"]}},
        body({"headers": {"route-to": ["queue3"]}}),
        False,
        BODY,
    ),
    case("EB-18 array of arrays", {"a": ["x"]}, body({"a": [["y"], ["x"]]}), True, BODY),
    case("EB-19 S3 multiple records", S3_POLICY, body(S3_MULTIPLE), True, BODY),
    case("EB-19b S3 created", S3_POLICY, body(_s3("ObjectCreated:Put", "auto-2.xml")), True, BODY),
    case(
        "EB-19c S3 removed", S3_POLICY, body(_s3("ObjectRemoved:Delete", "auto-2.xml")), False, BODY
    ),
    case(
        "EB-19d S3 other key", S3_POLICY, body(_s3("ObjectCreated:Put", "home-2.xml")), False, BODY
    ),
    case(
        "EB-20 array consistency",
        {"r": {"a": ["1"], "b": ["2"]}},
        body({"r": [{"a": "1", "b": "3"}, {"a": "0", "b": "2"}]}),
        False,
        BODY,
    ),
    case(
        "EB-20b same element",
        {"r": {"a": ["1"], "b": ["2"]}},
        body({"r": [{"a": "0", "b": "3"}, {"a": "1", "b": "2"}]}),
        True,
        BODY,
    ),
    case(
        "EB-20c inner arrays are separate",
        {"r": {"a": ["1"], "b": ["2"]}},
        body({"r": [{"a": ["9", "1"], "b": "2"}]}),
        True,
        BODY,
    ),
    case(
        "EB-20d array and plain",
        {"r": {"a": ["1"]}, "s": ["2"]},
        body({"r": [{"a": "0"}, {"a": "1"}], "s": "2"}),
        True,
        BODY,
    ),
    case(
        "EB-20e three paths",
        {"r": {"a": ["1"], "b": ["2"], "c": ["3"]}},
        body({"r": [{"a": "1", "b": "2"}, {"c": "3"}]}),
        False,
        BODY,
    ),
    case("EB-21 true literal", {"a": [True]}, body({"a": True}), True, BODY),
    case("EB-22 string 'true'", {"a": [True]}, body({"a": "true"}), False, BODY),
    case("EB-23 true is not 1", {"a": [1]}, body({"a": True}), False, BODY),
    case(
        "EB-24 no double escape in bodies", {"a": ['say "hi"']}, body({"a": 'say "hi"'}), True, BODY
    ),
    case(
        "EB-25 attributes are not the body",
        {"a": ["x"]},
        {"attributes": {"a": S("x")}, "body": "{}"},
        False,
        BODY,
    ),
    case(
        "EB-26 body is not attributes",
        {"a": ["x"]},
        {"attributes": {}, "body": json.dumps({"a": "x"})},
        False,
    ),
    case(
        "EB-27 huge integer",
        {"a": [{"numeric": [">", 1]}]},
        body('{"a": ' + "9" * 5000 + "}"),
        True,
        BODY,
    ),
    case(
        "EB-28 duplicate keys: last wins", {"a": ["x"]}, body('{"a": "x", "a": "y"}'), False, BODY
    ),
    case(
        "EB-29 anything-but on nested",
        {"a": {"b": [{"anything-but": ["x"]}]}},
        body({"a": [{"b": "x"}, {"b": "z"}]}),
        True,
        BODY,
    ),
    case(
        "AO-12 $or in body",
        {"$or": [{"a": {"b": ["1"]}}, {"c": ["2"]}]},
        body({"a": {"b": "1"}}),
        True,
        BODY,
    ),
    *(
        case(f"AO-13 parallel $or #{i}", OR_BODY_POLICY, body(message), expected, BODY)
        for i, (message, expected) in enumerate(OR_BODY_MESSAGES)
    ),
]


@pytest.mark.parametrize(
    ("policy", "scope", "message", "expected"),
    [
        *EXACT,
        *PREFIX_SUFFIX_CASE,
        *NUMERIC,
        *ANYTHING_BUT,
        *EXISTS,
        *CIDR,
        *COMBINATORS,
        *BODY_CASES,
    ],
)
def test_matches(policy: Any, scope: str, message: dict[str, Any], expected: bool) -> None:
    assert FilterPolicy(policy, scope).matches(**message) is expected
    # The same policy given as JSON text behaves the same.
    assert FilterPolicy(json.dumps(policy), scope).matches(**message) is expected


def test_ignore_case_in_body_array() -> None:
    # IC-04: equals-ignore-case on a body array looks at each element.
    policy = FilterPolicy({"a": [{"equals-ignore-case": "TENNIS"}]}, BODY)
    assert policy.matches(body=json.dumps({"a": ["X", "tennis"]}))
    assert not policy.matches(body=json.dumps({"a": ["X", "tennis court"]}))


def test_attribute_policy_without_attributes() -> None:
    policy = FilterPolicy({"a": [{"exists": False}]})
    assert not policy.matches()
    assert not policy.matches(attributes={})
    assert policy.matches(attributes={"b": S("1")})


def test_body_policy_without_body() -> None:
    policy = FilterPolicy({"a": [{"exists": False}]}, BODY)
    assert not policy.matches()
    assert policy.matches(body='{"b": 1}')


def test_deeply_nested_body_is_handled() -> None:
    policy = FilterPolicy({"a": ["x"]}, BODY)
    deep = '{"a": ' + "[" * 50_000 + '"x"' + "]" * 50_000 + "}"
    # Too deep for a JSON parser: not a JSON object, so no match, and no crash.
    assert not policy.matches(body=deep)
    assert policy.matches(body='{"a": ' + "[" * 200 + '"x"' + "]" * 200 + "}")


# --- validation -------------------------------------------------------------------------------


def bad(id_: str, policy: Any, reason: str, scope: str = ATTRS) -> Any:
    return pytest.param(policy, scope, reason, id=id_)


PARSE = "failed to parse JSON. "
VALUE_LIST = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
MIXED = (
    "Inside anything but list, either all values are number or string, mixed type is not supported"
)


def _values(n: int) -> list[str]:
    return [f"value{i}" for i in range(n)]


VALIDATION = [
    # Step 1: JSON.
    bad(
        "VE-45 not JSON (object)",
        "{invalid-json}",
        PARSE
        + "Unexpected character ('i' (code 105)): was expecting double-quote to start field name",
    ),
    bad(
        "VE-46 not JSON (token)",
        "invalid-policy",
        PARSE + "Unrecognized token 'invalid': was expecting " + VALUE_LIST,
    ),
    bad("VE-46b empty text", "", "failed to parse JSON. No content to map due to end-of-input"),
    bad(
        "VE-46c truncated",
        '{"a": ["x"',
        "failed to parse JSON. Unexpected end-of-input: expected close marker for Array",
    ),
    bad(
        "VE-46d missing colon",
        '{"a" ["x"]}',
        PARSE + "Unexpected character ('[' (code 91)): "
        "was expecting a colon to separate field name and value",
    ),
    bad(
        "VE-46e missing comma",
        '{"a": ["x" "y"]}',
        PARSE
        + "Unexpected character ('\"' (code 34)): was expecting comma to separate Array entries",
    ),
    bad(
        "VE-46f missing comma in object",
        '{"a": ["x"] "b": ["y"]}',
        PARSE
        + "Unexpected character ('\"' (code 34)): was expecting comma to separate Object entries",
    ),
    bad(
        "VE-46g trailing comma",
        '{"a": ["x",]}',
        PARSE + "Unexpected character (']' (code 93)): expected a valid value " + VALUE_LIST,
    ),
    bad(
        "VE-46h NaN",
        '{"a": [NaN]}',
        PARSE
        + "Non-standard token 'NaN': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow",
    ),
    bad(
        "VE-46i unterminated string",
        '{"a": ["x',
        PARSE + "Unexpected end-of-input: was expecting closing quote for a String value",
    ),
    bad(
        "VE-46j bad escape",
        '{"a": ["\\q"]}',
        "failed to parse JSON. Unrecognized character escape 'q' (code 113)",
    ),
    bad(
        "VE-46k trailing data",
        '{"a": ["x"]} {}',
        PARSE
        + "Unexpected character ('{' (code 123)): expected end-of-input after the top-level value",
    ),
    # Step 2: the grammar.
    bad("VE-01 not an object (array)", "[]", "Filter is not an object"),
    bad("VE-01b not an object (number)", "5", "Filter is not an object"),
    bad("VE-01c not an object (null)", "null", "Filter is not an object"),
    bad("VE-02 empty policy", {}, "Empty objects are not allowed"),
    bad("VE-54 empty nested object", {"a": {}}, "Empty objects are not allowed", BODY),
    bad("VE-07 value not a list", {"key_a": "value_one"}, '"key_a" must be an object or an array'),
    bad("VE-07b number value", {"key_a": 5}, '"key_a" must be an object or an array'),
    bad(
        "VE-09 operator without a list",
        {"key": {"suffix": "value"}},
        '"suffix" must be an object or an array',
    ),
    bad(
        "VE-09b two operators without a list",
        {"key": {"suffix": "value", "prefix": "value"}},
        '"suffix" must be an object or an array',
    ),
    bad(
        "VE-09c unknown name without a list",
        {"key": {"not-an-operator": "value"}},
        '"not-an-operator" must be an object or an array',
    ),
    bad("VE-04 empty list", {"key": []}, "Empty arrays are not allowed"),
    bad(
        "VE-16 list in a list",
        {"key": [["value"]]},
        "Match value must be String, number, true, false, or null",
    ),
    bad(
        "VE-03 two operators",
        {"key": [{"suffix": "value", "prefix": "value2"}]},
        "Only one key allowed in match expression",
    ),
    bad("VE-47 empty operator", {"key": [{}]}, "Match expression name not found"),
    bad(
        "VE-17 unknown operator",
        {"key": [{"wrong-operator": True}]},
        "Unrecognized match type wrong-operator",
    ),
    bad("VE-17b wildcard", {"key": [{"wildcard": "a*"}]}, "Unrecognized match type wildcard"),
    bad("VE-17c exactly", {"key": [{"exactly": "a"}]}, "Unrecognized match type exactly"),
    bad("VE-05 suffix number", {"key": [{"suffix": 100}]}, "suffix match pattern must be a string"),
    bad("VE-05b suffix null", {"key": [{"suffix": None}]}, "suffix match pattern must be a string"),
    bad(
        "VE-05c suffix empty list",
        {"key": [{"suffix": []}]},
        "suffix match pattern must be a string",
    ),
    bad(
        "VE-05d suffix list",
        {"key": [{"suffix": ["test", "test2"]}]},
        "suffix match pattern must be a string",
    ),
    bad("VE-06 prefix number", {"key": [{"prefix": 5}]}, "prefix match pattern must be a string"),
    bad(
        "VE-08 equals-ignore-case null",
        {"key": [{"equals-ignore-case": None}]},
        "equals-ignore-case match pattern must be a string",
    ),
    bad(
        "VE-51 operand checked before extra keys",
        {"key": [{"suffix": 5, "prefix": "x"}]},
        "suffix match pattern must be a string",
    ),
    bad(
        "VE-36 exists null",
        {"key": [{"exists": None}]},
        "exists match pattern must be either true or false.",
    ),
    bad(
        "VE-37 exists string",
        {"key": [{"exists": "no"}]},
        "exists match pattern must be either true or false.",
    ),
    bad(
        "VE-38 exists and more",
        {"key": [{"exists": True, "prefix": "x"}]},
        "Only one key allowed in match expression",
    ),
    bad("VE-10 cidr number", {"key": [{"cidr": 5}]}, "prefix match pattern must be a string"),
    bad(
        "VE-11 cidr without slash",
        {"key": [{"cidr": "10.0.0.0"}]},
        "Malformed CIDR, one '/' required",
    ),
    bad(
        "VE-11b cidr with two slashes",
        {"key": [{"cidr": "10.0.0.0/8/8"}]},
        "Malformed CIDR, one '/' required",
    ),
    bad(
        "VE-12 cidr mask not an integer",
        {"key": [{"cidr": "bad-/64filter"}]},
        "Malformed CIDR, mask bits must be an integer",
    ),
    bad(
        "VE-12b cidr mask too large for an integer",
        {"key": [{"cidr": "10.0.0.0/99999999999"}]},
        "Malformed CIDR, mask bits must be an integer",
    ),
    bad(
        "VE-13 cidr negative mask",
        {"key": [{"cidr": "10.0.0.0/-1"}]},
        "Malformed CIDR, mask bits must not be negative",
    ),
    bad(
        "VE-14 cidr bad address",
        {"key": [{"cidr": "bad-filter/64"}]},
        "Nonstandard IP address: bad-filter",
    ),
    bad(
        "VE-14b cidr bad IPv4",
        {"key": [{"cidr": "xx.11.xx/8"}]},
        "Nonstandard IP address: xx.11.xx",
    ),
    bad(
        "VE-14c cidr bad IPv6",
        {"key": [{"cidr": "xxxx:db8:1234:1a00::/64"}]},
        "Nonstandard IP address: xxxx:db8:1234:1a00::",
    ),
    bad(
        "VE-14d cidr octet too large",
        {"key": [{"cidr": "10.0.0.256/24"}]},
        "Invalid IP address: 10.0.0.256",
    ),
    bad("VE-15 cidr IPv4 /32", {"key": [{"cidr": "10.0.0.1/32"}]}, "IPv4 mask bits must be < 32"),
    bad("VE-15b cidr IPv6 /128", {"key": [{"cidr": "::1/128"}]}, "IPv6 mask bits must be < 128"),
    bad(
        "VE-56 cidr and more",
        {"key": [{"cidr": "10.0.0.0/8", "prefix": "1"}]},
        "Only one key allowed in match expression",
    ),
    bad(
        "VE-32 anything-but unknown operator",
        {"key": [{"anything-but": {"wrong-operator": None}}]},
        "Unsupported anything-but pattern: wrong-operator",
    ),
    bad(
        "VE-33 anything-but suffix",
        {"key": [{"anything-but": {"suffix": "test"}}]},
        "Unsupported anything-but pattern: suffix",
    ),
    bad(
        "VE-34 anything-but exists",
        {"key": [{"anything-but": {"exists": False}}]},
        "Unsupported anything-but pattern: exists",
    ),
    bad(
        "VE-35 anything-but equals-ignore-case",
        {"key": [{"anything-but": {"equals-ignore-case": "x"}}]},
        "Unsupported anything-but pattern: equals-ignore-case",
    ),
    bad(
        "VE-52 anything-but prefix not a string",
        {"key": [{"anything-but": {"prefix": False}}]},
        "prefix match pattern must be a string",
    ),
    bad(
        "VE-52b anything-but empty prefix",
        {"key": [{"anything-but": {"prefix": ""}}]},
        "Null prefix not allowed",
    ),
    bad(
        "VE-52c anything-but empty object",
        {"key": [{"anything-but": {}}]},
        "Anything-But expression name not found",
    ),
    bad(
        "VE-52d anything-but prefix and more",
        {"key": [{"anything-but": {"prefix": "a", "suffix": "b"}}]},
        "Only one key allowed in match expression",
    ),
    bad(
        "VE-49 anything-but mixed list",
        {"key": [{"anything-but": ["a", 1]}]},
        MIXED,
    ),
    bad(
        "VE-49b anything-but empty list",
        {"key": [{"anything-but": []}]},
        MIXED,
    ),
    bad(
        "VE-50 anything-but null in list",
        {"key": [{"anything-but": ["a", None]}]},
        "Inside anything but list, start|null|boolean is not supported.",
    ),
    bad(
        "VE-50b anything-but list in list",
        {"key": [{"anything-but": [["a"]]}]},
        "Inside anything but list, start|null|boolean is not supported.",
    ),
    bad(
        "VE-53 anything-but null",
        {"key": [{"anything-but": None}]},
        "Value of anything-but must be an array or single string/number value.",
    ),
    bad(
        "VE-53b anything-but boolean",
        {"key": [{"anything-but": True}]},
        "Value of anything-but must be an array or single string/number value.",
    ),
    bad(
        "VE-53c anything-but and more",
        {"key": [{"anything-but": "x", "prefix": "y"}]},
        "Too many elements in numeric expression",
    ),
    bad(
        "VE-18 numeric not a list", {"key": [{"numeric": 5}]}, "Value of numeric must be an array."
    ),
    bad("VE-20 numeric empty", {"key": [{"numeric": []}]}, "Invalid member in numeric match: ]"),
    bad(
        "VE-21 numeric unknown operator",
        {"key": [{"numeric": ["operator"]}]},
        "Unrecognized numeric range operator: operator",
    ),
    bad(
        "VE-22 numeric operand first",
        {"key": [{"numeric": [1, "<="]}]},
        "Invalid member in numeric match: 1",
    ),
    bad(
        "VE-22b number spelling kept",
        '{"key": [{"numeric": [1.50, "<"]}]}',
        "Invalid member in numeric match: 1.50",
    ),
    bad(
        "VE-22c null first", {"key": [{"numeric": [None]}]}, "Invalid member in numeric match: null"
    ),
    bad(
        "VE-19 equals with a string",
        {"key": [{"numeric": ["=", "000"]}]},
        "Value of equals must be numeric",
    ),
    bad("VE-23 missing operand", {"key": [{"numeric": [">="]}]}, "Value of >= must be numeric"),
    bad(
        "VE-24 second pair after <",
        {"key": [{"numeric": ["<", 100, ">", 10]}]},
        "Too many elements in numeric expression",
    ),
    bad(
        "VE-24b second value after =",
        {"key": [{"numeric": ["=", 5, 6]}]},
        "Too many elements in numeric expression",
    ),
    bad(
        "VE-25 operand instead of operator",
        {"key": [{"numeric": [">", 20, 30]}]},
        "Bad value in numeric range: 30",
    ),
    bad(
        "VE-26 second operator not < or <=",
        {"key": [{"numeric": [">=", 1, ">", 2]}]},
        "Bad numeric range operator: >",
    ),
    bad(
        "VE-26b second operator unknown",
        {"key": [{"numeric": [">", 20, "test"]}]},
        "Bad numeric range operator: test",
    ),
    bad(
        "VE-27 missing upper operand",
        {"key": [{"numeric": [">", 20, "<="]}]},
        "Value of <= must be numeric",
    ),
    bad(
        "VE-27b lower operand a string",
        {"key": [{"numeric": [">", "20", "<", "30"]}]},
        "Value of > must be numeric",
    ),
    bad(
        "VE-27c upper operand a string",
        {"key": [{"numeric": [">", 20, "<", "30"]}]},
        "Value of < must be numeric",
    ),
    bad(
        "VE-28 bottom above top",
        {"key": [{"numeric": [">", 3, "<", 1]}]},
        "Bottom must be less than top",
    ),
    bad(
        "VE-28b bottom equals top",
        {"key": [{"numeric": [">=", 5, "<=", 5]}]},
        "Bottom must be less than top",
    ),
    bad(
        "VE-29 too many terms",
        {"key": [{"numeric": [">", 20, "<", 30, "<", 50]}]},
        "Too many terms in numeric range expression",
    ),
    bad(
        "VE-30 numeric and more",
        {"key": [{"numeric": [">", 1], "prefix": "x"}]},
        "Too many elements in numeric expression",
    ),
    bad("VE-55 one-element $or is a key", {"$or": [{"a": ["1"]}]}, "Unrecognized match type a"),
    bad("VE-55b $or of a string", {"$or": "x"}, '"$or" must be an object or an array'),
    bad("VE-55c empty $or", {"$or": []}, "Empty arrays are not allowed"),
    bad(
        "VE-55d $or of one object and a string",
        {"$or": [{"a": ["1"]}, "b"]},
        "Unrecognized match type a",
    ),
    bad(
        "VE-39 $or alternative invalid",
        {"$or": [{"a": ["1"]}, {"b": [{"prefix": 1}]}]},
        "prefix match pattern must be a string",
    ),
    bad(
        "VE-40 first error in document order",
        {"a": [{"prefix": 1}], "b": [{"suffix": 1}]},
        "prefix match pattern must be a string",
    ),
    bad(
        "VE-41 error in an earlier duplicate key",
        '{"a": [{"prefix": 1}], "a": ["x"]}',
        "prefix match pattern must be a string",
    ),
    bad(
        "VE-42 grammar before scope",
        {"a": {"b": ["x"]}, "c": "bad"},
        '"c" must be an object or an array',
    ),
    # Step 4: keys; step 5: combinations.
    bad(
        "VE-43 six keys",
        {f"key{i}": [f"value{i}"] for i in range(1, 7)},
        "Filter policy can not have more than 5 keys",
    ),
    bad(
        "VE-43b six keys in the body",
        {f"key{i}": [f"value{i}"] for i in range(1, 7)},
        "Filter policy can not have more than 5 keys",
        BODY,
    ),
    bad(
        "VE-43c six keys, also too complex",
        {f"key{i}": _values(30) for i in range(6)},
        "Filter policy can not have more than 5 keys",
    ),
    bad("VE-44 151 values", {"key": _values(151)}, "Filter policy is too complex"),
    bad(
        "VE-44b 100 x 51",
        {"key1": _values(100), "key2": _values(51)},
        "Filter policy is too complex",
    ),
    bad(
        "VE-44c 4 x (6 + 4 x (4 + 4)) = 152",
        {
            "source": ["aws.cloudwatch", "aws.events", "aws.test", "aws.test2"],
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency", "t1", "t2", "t3", "t4"]},
                {
                    "metricType": ["MetricType", "TestType", "TestType2", "TestType3"],
                    "$or": [{"metricId": [1234, 4321, 5678, 9012]}, {"spaceId": [1, 2, 3, 4]}],
                },
            ],
        },
        "Filter policy is too complex",
    ),
    bad(
        "VE-44d nested $or = 160",
        {
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency", "TestValue"]},
                {"namespace": ["AWS/EC2", "AWS/ES"]},
            ],
            "detail": {
                "scope": ["Service", "Test"],
                "$or": [
                    {"source": ["aws.cloudwatch"]},
                    {"type": ["CloudWatch Alarm State Change", "TestValue", "TestValue2"]},
                ],
            },
        },
        "Filter policy is too complex",
        BODY,
    ),
    bad(
        "VE-44e nested = 216",
        {
            "key_a": {"key_b": {"key_c": ["value_one", "value_two", "value_three", "value_four"]}},
            "key_d": {"key_e": ["value_one", "value_two", "value_three"]},
            "key_f": ["value_one", "value_two", "value_three"],
        },
        "Filter policy is too complex",
        BODY,
    ),
    bad(
        "VE-44f a leaf at depth 151",
        json.loads('{"a":' * 151 + '["x"]' + "}" * 151),
        "Filter policy is too complex",
        BODY,
    ),
    bad(
        "VE-48 too large",
        json.dumps({"a": ["x" * 300_000]}),
        "Filter policy can not be larger than 256 KB",
    ),
]


@pytest.mark.parametrize(("policy", "scope", "reason"), VALIDATION)
def test_validation(policy: Any, scope: str, reason: str) -> None:
    with pytest.raises(
        FilterPolicyError, match=rf"^{re.escape('Invalid parameter: FilterPolicy: ' + reason)}$"
    ) as info:
        FilterPolicy(policy, scope)
    assert info.value.reason == reason
    assert info.value.attribute == "FilterPolicy"
    subscribe = info.value.for_subscribe()
    assert subscribe.message == f"Invalid parameter: Attributes Reason: FilterPolicy: {reason}"
    assert subscribe.for_set_subscription_attributes().message == info.value.message


SCOPE_ERRORS = [
    pytest.param({"object": {"key": [{"prefix": "auto-"}]}}, id="VE-31 nested"),
    pytest.param({"$or": [{"a": {"b": ["1"]}}, {"c": ["2"]}]}, id="VE-31b nested in $or"),
    pytest.param({"$or": {"a": ["1"]}}, id="VE-31c $or object is a nested key"),
    pytest.param({f"k{i}": {"x": ["1"]} for i in range(6)}, id="VE-31d scope before key count"),
]


@pytest.mark.parametrize("policy", SCOPE_ERRORS)
def test_nesting_needs_body_scope(policy: Any) -> None:
    reason = "Filter policy scope MessageAttributes does not support nested filter policy"
    with pytest.raises(
        FilterPolicyError, match=rf"^{re.escape('Invalid parameter: ' + reason)}$"
    ) as info:
        FilterPolicy(policy)
    assert info.value.attribute is None
    assert info.value.for_subscribe().message == f"Invalid parameter: Attributes Reason: {reason}"


@pytest.mark.parametrize("scope", ["RandomValue", "messagebody", "", None])
def test_invalid_scope(scope: Any) -> None:
    expected = (
        f"Invalid parameter: FilterPolicyScope: Invalid value [{scope}]. "
        "Please use either MessageBody or MessageAttributes"
    )
    with pytest.raises(FilterPolicyError, match=rf"^{re.escape(expected)}$") as info:
        FilterPolicy({"a": ["b"]}, scope)
    assert info.value.attribute == "FilterPolicyScope"
    assert info.value.for_subscribe().message == expected.replace(
        "Invalid parameter: ", "Invalid parameter: Attributes Reason: "
    )
    with pytest.raises(FilterPolicyError, match=rf"^{re.escape(expected)}$"):
        FilterPolicy.check_scope(scope)


POLICY_150: dict[str, Any] = {
    "source": ["aws.cloudwatch", "aws.events", "aws.test"],
    "$or": [
        {
            "metricName": [
                "CPUUtilization",
                "ReadLatency",
                "TestVal",
                "TestVal2",
                "TestVal3",
                "TestVal4",
            ]
        },
        {
            "metricType": ["MetricType", "TestType", "TestType2", "TestType3"],
            "$or": [
                {"metricId": [1234, 4321, 5678, 9012]},
                {"spaceId": [1, 2, 3, 4, 5, 6, 7]},
            ],
        },
    ],
}

VALID = [
    pytest.param(
        POLICY_150,
        ATTRS,
        id="VA-03 exactly 150 combinations",
    ),
    pytest.param({"key": _values(150)}, ATTRS, id="VA-01 150 values"),
    pytest.param({"a": ["1", "2", "3"], "b": ["x"], "c": ["p", "q"]}, ATTRS, id="VA-02 3x1x2"),
    pytest.param(
        {"key_a": {"key_b": {"key_c": ["1", "2", "3", "4"]}}, "key_d": {"key_e": ["1", "2", "3"]}},
        BODY,
        id="VA-04 3x4x2x3",
    ),
    pytest.param({f"key{i}": ["v"] for i in range(5)}, ATTRS, id="VA-05 five keys"),
    pytest.param(
        {"a": [{"numeric": [">", 1e10]}], "b": [12345678901234]}, ATTRS, id="VA-06 beyond 1e9"
    ),
    pytest.param({"$or": [{"prefix": "abc"}, {"suffix": "xyz"}]}, ATTRS, id="VA-07 $or as a key"),
    pytest.param(
        {"key": [{"anything-but": {"prefix": "test-"}}]}, ATTRS, id="VA-08 anything-but prefix"
    ),
    pytest.param(
        {"key": [{"anything-but": ["test", "test2"]}]}, ATTRS, id="VA-09 anything-but list"
    ),
    pytest.param(
        {"key": [{"cidr": "10.0.0.0/24"}, {"cidr": "2001:db8::/64"}]}, ATTRS, id="VA-10 cidr"
    ),
    pytest.param(
        {"key": [{"cidr": "10.0.0.0/24/"}]}, ATTRS, id="VA-11 cidr trailing slash dropped"
    ),
    pytest.param(
        {"a": {"b": {"c": ["x"]}}, "$or": [{"d": ["1"]}, {"e": ["2"]}]}, BODY, id="VA-12 nested"
    ),
    pytest.param(
        {"a": [{"prefix": ""}, {"suffix": ""}, {"equals-ignore-case": ""}]},
        ATTRS,
        id="VA-13 empty patterns",
    ),
]


@pytest.mark.parametrize(("policy", "scope"), VALID)
def test_valid(policy: Any, scope: str) -> None:
    compiled = FilterPolicy(policy, scope)
    assert compiled.policy == policy
    assert compiled.branches


def test_or_expands_into_branches() -> None:
    policy = FilterPolicy(POLICY_150)
    # source * (metricName + metricType * (metricId + spaceId)): three branches.
    assert [sorted(dict(branch.items)) for branch in policy.branches] == [
        ["metricName", "source"],
        ["metricId", "metricType", "source"],
        ["metricType", "source", "spaceId"],
    ]


# --- the value type ---------------------------------------------------------------------------


def test_properties_and_copies() -> None:
    text = '{"b": ["2"], "a": [{"numeric": [">", 1]}]}'
    policy = FilterPolicy(text, BODY)
    assert policy.policy_json == text
    assert policy.scope == BODY
    assert policy.policy == {"b": ["2"], "a": [{"numeric": [">", 1]}]}
    policy.policy["b"].append("3")
    assert policy.policy == {"b": ["2"], "a": [{"numeric": [">", 1]}]}
    assert repr(policy) == f"FilterPolicy({text!r}, scope='MessageBody')"
    mapping = {"a": ("x", "y")}
    from_mapping = FilterPolicy(mapping)
    assert from_mapping.policy_json == '{"a": ["x", "y"]}'
    assert from_mapping.scope == ATTRS
    assert from_mapping.paths == frozenset({"a"})


def test_equality_ignores_key_order_and_spacing() -> None:
    one = FilterPolicy('{"a": ["x"], "b": [1]}')
    two = FilterPolicy({"b": [1], "a": ["x"]})
    assert one == two
    assert hash(one) == hash(two)
    assert one != FilterPolicy({"a": ["x"], "b": [1]}, BODY)
    assert one != FilterPolicy({"a": ["y"], "b": [1]})
    assert one != FilterPolicy({"a": ["x"], "b": [1]}).policy
    assert len({one, two, FilterPolicy({"a": ["y"]})}) == 2


def test_with_scope_revalidates() -> None:
    nested = FilterPolicy({"a": {"b": ["x"]}}, BODY)
    with pytest.raises(FilterPolicyError, match=r"^Invalid parameter: Filter policy scope "):
        nested.with_scope(ATTRS)
    flat = FilterPolicy({"a": ["x"]})
    assert flat.with_scope(BODY).matches(body='{"a": "x"}')


def test_error_is_an_invalid_parameter() -> None:
    with pytest.raises(InvalidParameter) as info:
        FilterPolicy({"a": []})
    assert isinstance(info.value, ValueError)
    assert info.value.code == "InvalidParameter"
    assert info.value.http_status == 400
    assert info.value.sender_fault is True
    copied = pickle.loads(pickle.dumps(info.value))
    assert isinstance(copied, FilterPolicyError)
    assert copied.message == info.value.message
    assert copy.copy(info.value).message == info.value.message


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (5, r"^a filter policy is a str or a mapping, not int$"),
        ({"a": [{1, 2}]}, r"^a filter policy cannot hold a set$"),
        ({1: ["x"]}, r"^filter policy keys must be str, not int$"),
    ],
)
def test_not_json_values(policy: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        FilterPolicy(policy)


# --- array consistency against a brute-force oracle -------------------------------------------

LEAVES = st.sampled_from(["1", "2"])


@st.composite
def consistency_cases(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, Any]]:
    """A policy's wanted (path, value) pairs and a body built around them: records in
    arrays (sometimes arrays of arrays, or nested twice) that hold the wanted values, other
    values, or both, so that matches and near misses are both common."""
    shape = draw(st.sampled_from(["flat", "flat", "top", "nested"]))
    keys = {"flat": ["a", "b", "c"], "top": ["a"], "nested": ["a", "b"]}[shape]
    if shape == "flat":
        keys = draw(st.lists(st.sampled_from(keys), min_size=2, max_size=3, unique=True))
    targets = {key: draw(LEAVES) for key in keys}

    def value(key: str) -> Any:
        other = "2" if targets[key] == "1" else "1"
        return draw(
            st.sampled_from(
                [targets[key], targets[key], other, [other, targets[key]], [[targets[key]]]]
            )
        )

    records = [
        {key: value(key) for key in keys if draw(st.integers(0, 3))}
        for _ in range(draw(st.integers(1, 4)))
    ]
    body: Any = records if draw(st.booleans()) else [records[:1], records[1:]]
    if shape == "flat":
        return {f"r.{key}": target for key, target in targets.items()}, {"r": body}
    if shape == "top":
        wanted = {"r.a": targets["a"], "a": draw(LEAVES)}
        return wanted, {"r": body, "a": draw(st.sampled_from(["1", "2", ["1", "2"]]))}
    return (
        {f"r.r.{key}": target for key, target in targets.items()},
        {"r": [{"r": records[:2]}, {"r": records[2:]}]},
    )


def _leaves(node: Any, path: str, trail: tuple[tuple[int, int], ...], out: list[Any]) -> None:
    """(path, value, trail) of every leaf, the trail naming each array (by id) and index."""
    if isinstance(node, dict):
        for key, value in node.items():
            _leaves(value, f"{path}.{key}" if path else key, trail, out)
    elif isinstance(node, list):
        for index, element in enumerate(node):
            _leaves(element, path, (*trail, (id(node), index)), out)
    else:
        out.append((path, node, trail))


def _oracle(wanted: dict[str, str], document: dict[str, Any]) -> bool:
    leaves: list[Any] = []
    _leaves(document, "", (), leaves)
    choices = [
        [trail for path, value, trail in leaves if path == want and value == target]
        for want, target in wanted.items()
    ]
    for combination in itertools.product(*choices):
        positions: dict[int, int] = {}
        if all(
            positions.setdefault(array, index) == index
            for trail in combination
            for array, index in trail
        ):
            return True
    return False


@settings(max_examples=400, deadline=None)
@given(case=consistency_cases())
def test_array_consistency_agrees_with_brute_force(
    case: tuple[dict[str, str], dict[str, Any]],
) -> None:
    wanted, document = case
    policy = FilterPolicy({path: [value] for path, value in wanted.items()}, BODY)
    expected = _oracle(wanted, document)
    event("match" if expected else "no match")
    assert policy.matches(body=json.dumps(document)) is expected


def _each_path_somewhere(wanted: dict[str, str], document: dict[str, Any]) -> bool:
    leaves: list[Any] = []
    _leaves(document, "", (), leaves)
    return all(
        any(path == want and value == target for path, value, _ in leaves)
        for want, target in wanted.items()
    )


# Fixed cases, one or more per outcome and body shape, so that the property above is never
# vacuous whatever cases the generator happens to produce: each is classified by the oracle
# and checked against the policy.
FIXED_CONSISTENCY_CASES = [
    ({"r.a": "1", "r.b": "2"}, {"r": [{"a": "1", "b": "2"}]}, "match"),
    ({"r.a": "1", "r.b": "2"}, {"r": [{"a": "1", "b": "1"}, {"a": "2", "b": "2"}]}, "inconsistent"),
    ({"r.a": "1", "r.b": "2"}, {"r": [{"a": "1"}]}, "missing"),
    ({"r.a": "1", "r.b": "2"}, {"r": [{"a": ["2", "1"], "b": "2"}]}, "match"),
    ({"r.a": "1", "r.b": "2"}, {"r": [[{"a": "1", "b": "2"}], [{"a": "2"}]]}, "match"),
    ({"r.a": "1", "r.b": "2"}, {"r": [[{"a": "1"}], [{"b": "2"}]]}, "inconsistent"),
    ({"r.a": "1", "a": "2"}, {"r": [{"a": "1"}], "a": ["1", "2"]}, "match"),
    ({"r.a": "1", "a": "2"}, {"r": [{"a": "1"}], "a": "1"}, "missing"),
    ({"r.r.a": "1", "r.r.b": "2"}, {"r": [{"r": [{"a": "1", "b": "2"}]}, {"r": []}]}, "match"),
    (
        {"r.r.a": "1", "r.r.b": "2"},
        {"r": [{"r": [{"a": "1"}]}, {"r": [{"b": "2"}]}]},
        "inconsistent",
    ),
    ({"r.r.a": "1", "r.r.b": "2"}, {"r": [{"r": [{"a": "1"}, {"b": "2"}]}]}, "inconsistent"),
]


@pytest.mark.parametrize(("wanted", "document", "outcome"), FIXED_CONSISTENCY_CASES)
def test_array_consistency_fixed_cases(
    wanted: dict[str, str], document: dict[str, Any], outcome: str
) -> None:
    if _oracle(wanted, document):
        seen = "match"
    elif _each_path_somewhere(wanted, document):
        seen = "inconsistent"
    else:
        seen = "missing"
    assert seen == outcome
    policy = FilterPolicy({path: [value] for path, value in wanted.items()}, BODY)
    assert policy.matches(body=json.dumps(document)) is (outcome == "match")
