"""mqlite through the AWS wire protocols: boto3 (and any SDK) against mqlite's state.

``mock_aws`` answers botocore's SQS and SNS requests in this process; ``Server`` answers
any SDK over HTTP (``python -m mqlite serve``). Needs the ``aws`` extra
(``pip install "mqlite[aws]"``); ``import mqlite`` never imports this package.
"""

from __future__ import annotations

from ._mock import MockAws, mock_aws
from ._regions import Regions
from ._server import Server

__all__ = ["MockAws", "Regions", "Server", "mock_aws"]
