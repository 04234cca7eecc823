"""``GET /metrics``: Prometheus text with the dashboard's counts."""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator

import pytest

from mqlite import ManualClock
from mqlite.aws import Server

# name{label="value",...} number — the exposition format's sample line.
_SAMPLE = re.compile(r'^([a-z_]+)\{((?:[a-z_]+="(?:[^"\\\n]|\\.)*",?)*)\} (\S+)$')
_LABEL = re.compile(r'([a-z_]+)="((?:[^"\\\n]|\\.)*)"')


@pytest.fixture
def server() -> Iterator[Server]:
    with Server(port=0, clock=ManualClock()) as running:
        yield running


def _scrape(server: Server) -> tuple[str, dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    conn = http.client.HTTPConnection(server.endpoint_url.removeprefix("http://"), timeout=5)
    conn.request("GET", "/metrics")
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type", "").startswith("text/plain; version=0.0.4")
    text = response.read().decode()
    conn.close()
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for line in text.splitlines():
        if line.startswith("# "):
            assert re.match(r"^# (HELP|TYPE) [a-z_]+ \S", line), line
            continue
        match = _SAMPLE.match(line)
        assert match, line
        labels = frozenset(_LABEL.findall(match[2]))
        samples[(match[1], labels)] = float(match[3])
    return text, samples


def test_queue_counts_and_totals(server: Server) -> None:
    broker = server.broker()
    jobs = broker.create_queue("jobs")
    for i in range(3):
        jobs.send(str(i))
    [m] = jobs.receive()
    jobs.delete(m)
    jobs.send("later", delay=10)
    fifo = server.broker("eu-west-1").create_queue("f.fifo", content_based_deduplication=True)
    fifo.send("a", group_id="g")
    text, samples = _scrape(server)
    here = frozenset({("region", "us-east-1"), ("queue", "jobs")})
    assert samples[("mqlite_queue_messages", here | {("state", "visible")})] == 2
    assert samples[("mqlite_queue_messages", here | {("state", "delayed")})] == 1
    assert samples[("mqlite_queue_messages", here | {("state", "in_flight")})] == 0
    assert samples[("mqlite_queue_sent_total", here)] == 4
    assert samples[("mqlite_queue_received_total", here)] == 1
    assert samples[("mqlite_queue_deleted_total", here)] == 1
    assert samples[("mqlite_queue_oldest_message_age_seconds", here)] == 0
    there = frozenset({("region", "eu-west-1"), ("queue", "f.fifo")})
    assert samples[("mqlite_queue_fifo_groups", there)] == 1
    assert ("mqlite_queue_fifo_groups", here) not in samples
    assert "# TYPE mqlite_queue_sent_total counter" in text
    assert "# TYPE mqlite_queue_messages gauge" in text


def test_subscription_counts_and_escaped_labels(server: Server) -> None:
    topic = server.broker().create_topic("events")
    queue = server.broker().create_queue("orders")
    sub = topic.subscribe(queue, filter_policy={"kind": ["order"]})

    def odd_name(_: object) -> None:
        raise RuntimeError("down")

    odd_name.__qualname__ = 'say "hi"\\\nthere'
    topic.subscribe(odd_name)
    topic.publish("o", attributes={"kind": "order"})
    topic.publish("x", attributes={"kind": "other"})
    _, samples = _scrape(server)
    labels = frozenset(
        {
            ("region", "us-east-1"),
            ("topic", "events"),
            ("subscription", sub.arn),
            ("endpoint", queue.arn),
        }
    )
    topic_labels = frozenset({("region", "us-east-1"), ("topic", "events")})
    assert samples[("mqlite_topic_published_total", topic_labels)] == 2
    assert samples[("mqlite_subscription_delivered_total", labels)] == 1
    assert samples[("mqlite_subscription_filtered_total", labels)] == 1
    failed = [
        (dict(key[1]), value)
        for key, value in samples.items()
        if key[0] == "mqlite_subscription_failed_total" and value == 2
    ]
    [(odd, _)] = failed
    assert odd["endpoint"] == 'say \\"hi\\"\\\\\\nthere'
