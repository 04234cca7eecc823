"""Endpoints the remote tests run against: mqlite's own ``Server`` and moto's server."""

from __future__ import annotations

import socket
import urllib.request

import boto3
from moto.server import ThreadedMotoServer

from mqlite.aws import Server

# One session for every test: a session loads botocore's service models once and its
# clients share them, which makes a client a millisecond rather than a fifth of a second.
SESSION = boto3.Session(aws_access_key_id="any", aws_secret_access_key="any")


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Backend:
    """An endpoint the tests can stop and bring back on the same port, state kept."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._mqlite: Server | None = None
        self._moto: ThreadedMotoServer | None = None
        self.start()

    def start(self) -> None:
        if self.name == "mqlite":
            if self._mqlite is None:
                self._mqlite = Server(port=self.port)
            self._mqlite.start()
        else:
            self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
            self._moto.start()

    def stop(self) -> None:
        if self._mqlite is not None:
            self._mqlite.stop()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def reset(self) -> None:
        if self.name == "moto":
            request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
            with urllib.request.urlopen(request, timeout=5):
                pass
