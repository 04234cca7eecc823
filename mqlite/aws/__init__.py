"""mqlite through the AWS wire protocols: boto3 (and any SDK) against mqlite's state.

``mock_aws`` answers botocore's SQS and SNS requests in this process; ``Server`` answers
any SDK over HTTP (``python -m mqlite serve``). ``connect`` goes the other way: mqlite's
``Queue`` and ``Topic`` API over a real SQS and SNS (or any compatible endpoint) through
boto3. Needs the ``aws`` extra (``pip install "mqlite[aws]"``); ``import mqlite`` never
imports this package.
"""

from __future__ import annotations

from ._mock import MockAws, mock_aws
from ._regions import Regions
from ._remote import RemoteBroker, RemoteQueue, connect
from ._remote_errors import ChecksumMismatch, ServiceUnavailable
from ._remote_topic import RemoteSubscription, RemoteTopic
from ._server import Server

__all__ = [
    "ChecksumMismatch",
    "MockAws",
    "Regions",
    "RemoteBroker",
    "RemoteQueue",
    "RemoteSubscription",
    "RemoteTopic",
    "Server",
    "ServiceUnavailable",
    "connect",
    "mock_aws",
]
