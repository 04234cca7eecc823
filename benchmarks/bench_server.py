"""The HTTP server under load, beside moto's server and a bare echo server on the same stack.

A load generator in this process opens ``CONNECTIONS`` keep-alive connections, each on its
own thread, and loops: SendMessageBatch (10) + ReceiveMessage (10) + DeleteMessageBatch of
what came back, with request bodies prepared once (no signing, no SDK: the generator should
cost as little as possible). Each server runs in its own process:

* **mqlite** — ``python -m mqlite serve``;
* **moto** — ``python -m moto.server`` (skipped when moto's server extra is missing);
* **echo** — the standard library's ``ThreadingHTTPServer`` answering ``{}`` to everything:
  what the HTTP layer alone costs on the stack mqlite uses.

Figures are messages per second (each message is sent, received and deleted once) and, for
the echo server, requests per second. Run ``python benchmarks/bench_server.py`` (``--quick``
for a short run); ``run(quick)`` returns the figures for the suite runner.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

CONNECTIONS = 4
_HEADERS = {
    "Content-Type": "application/x-amz-json-1.0",
    # Unsigned, but scoped: servers that route by service (moto) find SQS from it.
    "Authorization": "AWS4-HMAC-SHA256 Credential=bench/20240101/us-east-1/sqs/aws4_request,"
    " SignedHeaders=host, Signature=0",
}
_ECHO = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo)
server.daemon_threads = True
print("ready", flush=True)
server.serve_forever()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


@contextmanager
def _process(args: list[str], port: int) -> Iterator[None]:
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=os.environ
    )
    try:
        _wait_listening(port, proc)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _call(conn: http.client.HTTPConnection, op: str, body: bytes) -> dict[str, Any]:
    conn.request("POST", "/", body=body, headers={**_HEADERS, "X-Amz-Target": f"AmazonSQS.{op}"})
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{op}: {response.status} {data[:200]!r}")
    return json.loads(data) if data else {}


def _create_queue(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        body = json.dumps({"QueueName": "bench"}).encode()
        return str(_call(conn, "CreateQueue", body)["QueueUrl"])
    finally:
        conn.close()


def _load(port: int, seconds: float, sqs: bool) -> float:
    """Messages per second (sqs) or requests per second (echo) over *seconds*."""
    url = _create_queue(port) if sqs else "/000000000000/bench"
    send = json.dumps(
        {"QueueUrl": url, "Entries": [{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10)]}
    ).encode()
    receive = json.dumps({"QueueUrl": url, "MaxNumberOfMessages": 10}).encode()
    url_json = json.dumps(url)
    stop = time.monotonic() + seconds
    counts = [0] * CONNECTIONS

    def loop(slot: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        done = 0
        while time.monotonic() < stop:
            _call(conn, "SendMessageBatch", send)
            got = _call(conn, "ReceiveMessage", receive).get("Messages", [])
            if sqs and got:
                entries = ",".join(
                    f'{{"Id":"{i}","ReceiptHandle":{json.dumps(m["ReceiptHandle"])}}}'
                    for i, m in enumerate(got)
                )
                body = f'{{"QueueUrl":{url_json},"Entries":[{entries}]}}'.encode()
                _call(conn, "DeleteMessageBatch", body)
                done += len(got)
            elif not sqs:
                _call(conn, "DeleteMessageBatch", receive)
                done += 3  # requests, for the echo server
        counts[slot] = done
        conn.close()

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(CONNECTIONS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - t0)


def mqlite_server(seconds: float) -> float:
    port = _free_port()
    with _process([sys.executable, "-m", "mqlite", "serve", "--port", str(port)], port):
        return _load(port, seconds, sqs=True)


def moto_server(seconds: float) -> float | None:
    try:
        import flask  # noqa: F401 - moto's server needs it
        import moto  # noqa: F401
    except ImportError:
        return None
    port = _free_port()
    with _process([sys.executable, "-m", "moto.server", "-p", str(port)], port):
        return _load(port, seconds, sqs=True)


def echo_server(seconds: float) -> float:
    port = _free_port()
    with _process([sys.executable, "-c", _ECHO, str(port)], port):
        return _load(port, seconds, sqs=False)


def run(quick: bool = False) -> dict[str, Any]:
    """Messages per second for mqlite and moto, requests per second for the echo server."""
    seconds = 2.0 if quick else 8.0
    mqlite = mqlite_server(seconds)
    moto = moto_server(seconds)
    echo = echo_server(seconds)
    return {
        "connections": CONNECTIONS,
        "seconds": seconds,
        "mqlite_msgs_per_s": mqlite,
        "moto_msgs_per_s": moto,
        "echo_requests_per_s": echo,
        # Each message costs 3/10 of a request here (batches of 10, three calls).
        "mqlite_requests_per_s": mqlite * 3 / 10,
        "mqlite_over_moto": (mqlite / moto) if moto else None,
    }


def report(results: dict[str, Any]) -> str:
    lines = [
        f"{results['connections']} keep-alive connections, SendMessageBatch(10) +"
        " ReceiveMessage(10) + DeleteMessageBatch:",
        f"  mqlite serve:  {results['mqlite_msgs_per_s']:8.0f} msg/s"
        f" ({results['mqlite_requests_per_s']:.0f} requests/s)",
    ]
    if results["moto_msgs_per_s"] is not None:
        lines.append(
            f"  moto.server:   {results['moto_msgs_per_s']:8.0f} msg/s"
            f" (mqlite {results['mqlite_over_moto']:.1f}x)"
        )
    lines.append(
        f"  echo server:   {results['echo_requests_per_s']:8.0f} requests/s"
        " (the HTTP layer alone, same stack)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller, faster run")
    args = parser.parse_args()
    print(report(run(args.quick)))
