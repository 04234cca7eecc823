import json
import urllib.request

from mqlite.aws import Server


def get(url):
    with urllib.request.urlopen(url) as response:
        return response.read().decode()


def test_the_json_api_and_metrics():
    with Server(port=0) as server:
        jobs = server.broker("us-east-1").create_queue("jobs")
        jobs.send("hello")

        queues = json.loads(get(server.endpoint_url + "/api/queues"))["queues"]
        [row] = [q for q in queues if q["name"] == "jobs"]
        assert (row["region"], row["visible"], row["sent"]) == ("us-east-1", 1, 1)

        peek = json.loads(get(server.endpoint_url + "/api/queues/us-east-1/jobs/messages"))
        assert peek["messages"][0]["body"] == "hello"
        assert jobs.peek()[0].receive_count == 0  # a peek changes nothing

        metrics = get(server.endpoint_url + "/metrics")
        assert 'mqlite_queue_sent_total{region="us-east-1",queue="jobs"} 1' in metrics
