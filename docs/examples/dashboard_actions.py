import json
import urllib.error
import urllib.request

import pytest

from mqlite.aws import Server


def post(url, payload):
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "X-Mqlite-Dashboard": "1"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def test_send_and_purge_unless_read_only():
    with Server(port=0) as server:
        server.broker().create_queue("jobs")
        base = server.endpoint_url + "/api/queues/us-east-1/jobs"
        sent = post(base + "/messages", {"body": "a test message"})
        assert server.broker().get_queue("jobs").peek()[0].message_id == sent["message_id"]
        assert post(base + "/purge", {}) == {"purged": True}

    with Server(port=0, read_only=True) as server:
        server.broker().create_queue("jobs")
        with pytest.raises(urllib.error.HTTPError) as refused:
            post(server.endpoint_url + "/api/queues/us-east-1/jobs/purge", {})
        assert refused.value.code == 403
        assert json.loads(refused.value.read())["error"]["code"] == "ReadOnly"
