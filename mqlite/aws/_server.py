"""``Server``: SQS and SNS over HTTP for any SDK, language or process.

A thread per connection (the standard library's ``ThreadingHTTPServer``) so that a long
poll holds up nobody else; HTTP/1.1 keep-alive so an SDK reuses its connection. Every
request goes through the same sans-IO :func:`~mqlite.aws._dispatch.handle` that
``mock_aws`` uses, so the server and the in-process mock answer identically.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from mqlite.aws._dashboard import Dashboard, is_dashboard_path
from mqlite.aws._dispatch import handle
from mqlite.aws._regions import Regions
from mqlite.aws._wire import Request
from mqlite.broker import Broker
from mqlite.clock import Clock
from mqlite.errors import MqliteError

__all__ = ["Server"]

#: Larger bodies are not even read; the protocols refuse smaller ones that are still too big.
_MAX_BODY = 64 * 1024 * 1024

_log = logging.getLogger("mqlite.aws.server")
#: How often the serving loop checks for stop(): bounds how long a stop takes.
_POLL_INTERVAL = 0.05


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; without this the body waits for a delayed ACK.
    disable_nagle_algorithm = True
    server: _HttpServer

    def _answer(self) -> None:
        started = time.perf_counter()
        if self.server.stopped:
            # A stopped endpoint takes its connections with it: a request arriving on a
            # connection opened before the stop is dropped unanswered.
            self.close_connection = True
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY:
            self.close_connection = True
            self.send_error(413 if length > 0 else 400, "Bad or too large Content-Length")
            return
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=self.path,
            headers=dict(self.headers.items()),
            body=body,
            host=self.headers.get("Host") or "",
        )
        dashboard = self.server.dashboard
        if dashboard is not None and is_dashboard_path(self.command, self.path):
            response = dashboard.answer(request)
        else:
            response = handle(self.server.regions, request, url_base=self.server.endpoint_url)
        # Logged before the answer goes out, so a client that has its answer sees the line.
        _log.debug(
            "%s %s %s %d %.1f ms",
            self.client_address[0],
            request.header("X-Amz-Target") or self.path,
            self.command,
            response.status,
            (time.perf_counter() - started) * 1000,
        )
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.server.stopped:
            self.close_connection = True  # a long poll answered after a stop: its last
        self.end_headers()
        self.wfile.write(response.body)

    do_POST = _answer
    do_GET = _answer

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _answer logs one line per request, with the operation and the time taken

    def log_message(self, format: str, *args: Any) -> None:
        # http.server's own lines (a bad request line, say) go to the same logger.
        _log.debug(format, *args)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    # A stop must not wait for long polls still running on their connections.
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], regions: Regions, dashboard: Dashboard | None
    ) -> None:
        super().__init__(address, _Handler)
        self.regions = regions
        #: Set by Server.stop(): requests on connections still open are not answered.
        self.stopped = False
        self.dashboard = dashboard
        host, port = self.server_address[:2]
        self.endpoint_url = f"http://{_url_host(str(host))}:{port}"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class Server:
    """An SQS (JSON and query) and SNS (query) endpoint over HTTP.

    Every region is served (the region is read from each request's signature scope), any
    credentials are accepted, and queue URLs are ``<endpoint_url>/<account>/<name>``.
    ``port=0`` picks a free port; ``endpoint_url`` tells which. A context manager: ``with
    Server(port=0) as server:`` starts it and stops it on exit.

    ``path=None`` keeps everything in memory. With a *path*, the state is durable: *path*
    is a directory (made if missing) holding one SQLite file per region,
    ``<region>.mqlite``, each a ``Broker(path=..., durability=durability)``
    (docs/durability.md); a new server on the same directory serves the queues, topics,
    subscriptions and messages the last one left. The files are opened here (a directory
    another server holds, or a file that is not mqlite's, raises ``MqliteError`` at once)
    and closed by :meth:`stop`; a later :meth:`start` opens them again.

    ``GET /`` on the endpoint is a dashboard of every region's queues and topics, with a
    JSON API under ``/api/`` and Prometheus metrics at ``/metrics`` (docs/dashboard.md).
    ``read_only=True`` refuses its purge, send and redrive actions; ``dashboard=False``
    turns all of it off (those paths then get the AWS protocols' answers).

    Example::

        with Server(port=0) as server:
            sqs = boto3.client("sqs", endpoint_url=server.endpoint_url, region_name="us-east-1",
                               aws_access_key_id="x", aws_secret_access_key="x")
            sqs.create_queue(QueueName="jobs")
            assert server.broker().get_queue("jobs").name == "jobs"
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 9324,
        clock: Clock | None = None,
        account_id: str = "000000000000",
        path: str | os.PathLike[str] | None = None,
        durability: str = "crash",
        dashboard: bool = True,
        read_only: bool = False,
    ) -> None:
        self._address = (host, port)
        self.regions = Regions(clock=clock, account_id=account_id, path=path, durability=durability)
        #: The dashboard's API (None when turned off); its samples live as long as the server.
        self.dashboard = Dashboard(self.regions, read_only=read_only) if dashboard else None
        self._http: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def clock(self) -> Clock:
        """The clock every region's queues and topics use."""
        return self.regions.clock

    @property
    def endpoint_url(self) -> str:
        """``http://host:port`` of the running server (the real port when ``port=0``)."""
        if self._http is None:
            raise RuntimeError("the server is not running: call start() first")
        return self._http.endpoint_url

    def broker(self, region: str = "us-east-1") -> Broker:
        """The state behind *region*: what clients do there is visible here, and back."""
        return self.regions.broker(region)

    def start(self) -> Server:
        """Bind and serve on a background thread. Returns the server."""
        if self._http is not None:
            raise RuntimeError("the server is already running")
        self.regions.reopen()  # durable state closed by an earlier stop()
        self._http = _HttpServer(self._address, self.regions, self.dashboard)
        self._thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name="mqlite-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until :meth:`stop` (or Ctrl-C)."""
        if self._http is None:
            self.regions.reopen()
            self._http = _HttpServer(self._address, self.regions, self.dashboard)
        try:
            self._http.serve_forever(poll_interval=_POLL_INTERVAL)
        finally:
            self._http.server_close()
            self.regions.close()

    def stop(self) -> None:
        """Stop serving, free the port and close the durable state's files. Safe to call twice."""
        http, thread = self._http, self._thread
        self._http = self._thread = None
        if http is None:
            self.regions.close()  # a durable server made but never started holds its files
            return
        http.stopped = True
        http.shutdown()
        http.server_close()
        if thread is not None:
            thread.join()
        self.regions.close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self._http.endpoint_url if self._http is not None else "stopped"
        return f"<Server {where}>"


def serve(argv: list[str] | None = None) -> int:
    """``python -m mqlite serve``: run a :class:`Server` until Ctrl-C or SIGTERM."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(
        prog="python -m mqlite serve",
        description="Serve SQS (JSON and query protocols) and SNS over HTTP.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=9324, help="port to listen on (0: any)")
    parser.add_argument("--account-id", default="000000000000", help="account in URLs and ARNs")
    parser.add_argument(
        "--data",
        default=None,
        metavar="DIR",
        help="keep queues, topics and messages in this directory (one file per region)"
        " and restore them on the next start; in memory when not given",
    )
    parser.add_argument(
        "--durability",
        choices=("crash", "power"),
        default="crash",
        help="with --data: survive the process being killed (crash), or an OS crash too",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="the dashboard shows everything but cannot purge, send or redrive",
    )
    parser.add_argument(
        "--no-dashboard",
        action="store_true",
        help="serve no dashboard, JSON API or /metrics: only SQS and SNS",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(message)s",
    )
    try:
        server = Server(
            host=args.host,
            port=args.port,
            account_id=args.account_id,
            path=args.data,
            durability=args.durability,
            dashboard=not args.no_dashboard,
            read_only=args.read_only,
        )
    except (OSError, MqliteError) as error:
        print(f"mqlite serve: {error}", file=sys.stderr)
        return 1
    try:
        server.start()
    except OSError as error:
        server.stop()  # closes the files a durable server opened
        print(f"mqlite serve: {error}", file=sys.stderr)
        return 1
    print(f"mqlite: SQS and SNS on {server.endpoint_url} (Ctrl-C stops)", flush=True)
    if args.data is not None:
        print(f"  data: {args.data} (durability={args.durability})", flush=True)
    if server.dashboard is not None:
        mode = " (read-only)" if args.read_only else ""
        print(f"  dashboard: {server.endpoint_url}/{mode}", flush=True)
    print(
        f"  e.g. aws --endpoint-url {server.endpoint_url} sqs create-queue --queue-name jobs\n"
        f'    or boto3.client("sqs", endpoint_url="{server.endpoint_url}")',
        flush=True,
    )
    stopped = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stopped.wait(3600):
            pass
    except KeyboardInterrupt:
        pass
    server.stop()
    print("mqlite: stopped", flush=True)
    return 0
