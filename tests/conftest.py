"""Shared fixtures: ``broker`` runs a test on a local Broker, on mqlite's Server, and on moto."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator

import pytest
from _backends import SESSION, Backend
from hypothesis import settings

from mqlite import Broker
from mqlite.aws import RemoteBroker, connect

_regions = itertools.count(1)

# No per-example time limit: a busy machine (every core running a test process) stretches
# single examples past any fixed deadline, and a timing failure says nothing about mqlite.
settings.register_profile("mqlite", deadline=None)
settings.load_profile("mqlite")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "moto_differs(reason): moto's server departs from SQS/SNS here; its run is a strict xfail",
    )


@pytest.fixture(scope="session")
def server_backend() -> Iterator[Backend]:
    backend = Backend("mqlite")
    yield backend
    backend.stop()


@pytest.fixture(scope="session")
def moto_session_backend() -> Iterator[Backend]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    backend = Backend("moto")
    yield backend
    backend.stop()


@pytest.fixture(params=["local", "server", "moto"])
def broker(request: pytest.FixtureRequest) -> Iterator[Broker | RemoteBroker]:
    """A broker on each backend, empty for each test.

    One Server is shared by a whole run, each test in a region of its own; moto is reset
    before each test.
    """
    differs = request.node.get_closest_marker("moto_differs")
    if request.param == "moto" and differs is not None:
        request.applymarker(pytest.mark.xfail(strict=True, reason=differs.args[0]))
    if request.param == "local":
        yield Broker()
        return
    # Each region of a Server is a broker of its own: a fresh region is a fresh state.
    region = "us-east-1"
    backend: Backend
    if request.param == "server":
        backend = request.getfixturevalue("server_backend")
        region = f"xx-test-{next(_regions)}"
    else:
        backend = request.getfixturevalue("moto_session_backend")
        backend.reset()
    yield connect(backend.endpoint_url, region=region, session=SESSION)
