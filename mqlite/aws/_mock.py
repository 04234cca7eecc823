"""``mock_aws``: botocore's SQS and SNS requests in this process, answered by mqlite.

Two class-level hooks on botocore, installed while at least one ``mock_aws`` is active and
removed when the last one ends:

* ``Endpoint._send`` — where botocore hands a signed request to the network. Requests for
  SQS and SNS are answered from the innermost active mock's state instead; every other
  service goes to its original ``_send`` (so other mocks still see their requests).
* ``RequestSigner.sign`` — a client made without credentials can still call SQS and SNS
  (nothing is sent anywhere, so nothing needs a real signature).

Patching the classes rather than registering event handlers reaches every client, including
those made before the block started.
"""

from __future__ import annotations

import functools
import inspect
import io
import os
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, TypeVar, overload
from urllib.parse import urlsplit

from botocore.awsrequest import AWSResponse
from botocore.endpoint import Endpoint
from botocore.signers import RequestSigner

from mqlite.broker import Broker
from mqlite.clock import Clock

from ._dispatch import handle
from ._regions import Regions
from ._wire import Request

__all__ = ["MockAws", "mock_aws"]

F = TypeVar("F", bound=Callable[..., Any])

_SERVICES = ("sqs", "sns")
#: Set while the block runs when the environment names no credentials or region, so that
#: ``boto3.client("sqs")`` works as it does under moto.
_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}

_lock = threading.Lock()
_active: list[MockAws] = []
_original_send: Callable[..., Any] | None = None
_original_sign: Callable[..., Any] | None = None


class _Raw(io.BytesIO):
    """The file-like body botocore reads a response from."""

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        contents = self.read()
        while contents:
            yield contents
            contents = self.read()


def _send(endpoint: Endpoint, request: Any) -> Any:
    prefix = getattr(endpoint, "_endpoint_prefix", None)
    with _lock:
        mock = _active[-1] if _active else None
    if mock is None or prefix not in _SERVICES:
        assert _original_send is not None
        return _original_send(endpoint, request)
    body = request.body
    if body is None:
        body = b""
    elif hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode("utf-8")
    url = urlsplit(request.url)
    path = url.path or "/"
    if url.query:
        path = f"{path}?{url.query}"
    wire = Request(
        method=request.method,
        path=path,
        headers={
            k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()
        },
        body=body,
        host=url.netloc,
    )
    response = handle(mock.regions, wire, service=prefix)
    return AWSResponse(
        request.url,
        response.status,
        response.headers,  # type: ignore[arg-type]  # any mapping; stubs say HTTPHeaders
        _Raw(response.body),
    )


def _sign(
    signer: RequestSigner, operation_name: str, request: Any, *args: Any, **kwargs: Any
) -> Any:
    assert _original_sign is not None
    service = getattr(signer, "_signing_name", None) or getattr(signer, "_service_id", None)
    with _lock:
        active = bool(_active)
    credentials = getattr(signer, "_credentials", None)
    if active and str(service).lower() in _SERVICES and credentials is None:
        return None  # no credentials and nothing leaves the process: nothing to sign
    return _original_sign(signer, operation_name, request, *args, **kwargs)


def _install(mock: MockAws) -> None:
    global _original_send, _original_sign
    with _lock:
        if not _active:
            _original_send = getattr(Endpoint, "_send")  # noqa: B009 - private, untyped
            _original_sign = RequestSigner.sign
            setattr(Endpoint, "_send", _send)  # noqa: B010
            setattr(RequestSigner, "sign", _sign)  # noqa: B010
        _active.append(mock)


def _uninstall(mock: MockAws) -> None:
    global _original_send, _original_sign
    with _lock:
        _active.remove(mock)
        if not _active:
            # Put back exactly what was there before the first mock started.
            setattr(Endpoint, "_send", _original_send)  # noqa: B010 - private, untyped
            setattr(RequestSigner, "sign", _original_sign)  # noqa: B010

            _original_send = _original_sign = None


class MockAws:
    """An active (or reusable) mock: SQS and SNS state for every region, one clock.

    Use :func:`mock_aws` to make one. Each entry starts with empty state.
    """

    def __init__(self, *, clock: Clock | None = None, account_id: str = "000000000000") -> None:
        self._clock_arg = clock
        self._account_id = account_id
        self.regions = Regions(clock=clock, account_id=account_id)
        self._saved_env: dict[str, str | None] = {}

    @property
    def clock(self) -> Clock:
        """The clock every region's queues and topics use."""
        return self.regions.clock

    def broker(self, region: str = "us-east-1") -> Broker:
        """The state behind *region*: what boto3 does there is visible here, and back."""
        return self.regions.broker(region)

    # --- context manager -----------------------------------------------------------------

    def start(self) -> MockAws:
        """Start answering: fresh state, hooks installed."""
        self.regions = Regions(clock=self._clock_arg, account_id=self._account_id)
        self._saved_env = {}
        for name, value in _FAKE_ENV.items():
            if name not in os.environ:
                self._saved_env[name] = None
                os.environ[name] = value
        _install(self)
        return self

    def stop(self) -> None:
        """Stop answering and remove the hooks (when no other mock is active)."""
        _uninstall(self)
        self.regions.close()
        for name in self._saved_env:
            os.environ.pop(name, None)
        self._saved_env = {}

    def __enter__(self) -> MockAws:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- decorator -----------------------------------------------------------------------

    def __call__(self, target: F) -> F:
        """Decorate a function (sync or ``async def``) or a test class."""
        decorated: F = _decorate(target, self._clock_arg, self._account_id)
        return decorated


def _decorate(target: Any, clock: Clock | None, account_id: str) -> Any:
    if inspect.isclass(target):
        for name, member in list(vars(target).items()):
            if name.startswith("test") and callable(member):
                setattr(target, name, _decorate(member, clock, account_id))
        return target
    if inspect.iscoroutinefunction(target):

        @functools.wraps(target)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            with MockAws(clock=clock, account_id=account_id):
                return await target(*args, **kwargs)

        return run_async

    @functools.wraps(target)
    def run(*args: Any, **kwargs: Any) -> Any:
        with MockAws(clock=clock, account_id=account_id):
            return target(*args, **kwargs)

    return run


@overload
def mock_aws(func: F, /) -> F: ...
@overload
def mock_aws(
    func: None = None, /, *, clock: Clock | None = None, account_id: str = "000000000000"
) -> MockAws: ...
def mock_aws(
    func: Any = None, /, *, clock: Clock | None = None, account_id: str = "000000000000"
) -> Any:
    """Answer every botocore SQS and SNS request in this process from mqlite.

    A context manager (``with mock_aws() as aws:``) and a decorator, bare or called, for
    functions, ``async def`` functions and test classes (each ``test*`` method gets fresh
    state). Clients and resources made before or inside the block, in any region, are
    answered; requests to other services are left alone. ``aws.broker(region)`` is the
    state behind a region and ``aws.clock`` the clock all regions share: with a
    ``ManualClock`` a boto3 long poll waits on that clock.

    Example::

        with mock_aws() as aws:
            sqs = boto3.client("sqs", region_name="us-east-1")
            url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody="hi")
            assert aws.broker().get_queue("jobs").stats().visible == 1
    """
    if func is not None:
        return _decorate(func, None, "000000000000")
    return MockAws(clock=clock, account_id=account_id)
