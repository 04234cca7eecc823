"""``GET /metrics``: the dashboard's counts in Prometheus' text exposition format (0.0.4).

The same numbers as the JSON API: gauges for what queues hold now, counters for the running
totals (rates are Prometheus' business: ``rate(mqlite_queue_sent_total[1m])``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._dashboard import Dashboard

__all__ = ["metrics_text"]

_Sample = tuple[dict[str, str], float]

_QUEUE_METRICS = (
    ("mqlite_queue_messages", "gauge", "Messages a queue holds, by state."),
    ("mqlite_queue_oldest_message_age_seconds", "gauge", "Age of a queue's oldest message."),
    ("mqlite_queue_sent_total", "counter", "Messages stored in a queue (sends, redrives)."),
    ("mqlite_queue_received_total", "counter", "Messages handed out by receives."),
    ("mqlite_queue_deleted_total", "counter", "Messages deleted by receipt handle."),
    ("mqlite_queue_fifo_groups", "gauge", "Message groups holding messages (FIFO queues)."),
)
_TOPIC_METRICS = (
    ("mqlite_topic_published_total", "counter", "Messages published (duplicates not counted)."),
    ("mqlite_subscription_delivered_total", "counter", "Deliveries the target accepted."),
    ("mqlite_subscription_filtered_total", "counter", "Messages its filter policy left out."),
    ("mqlite_subscription_failed_total", "counter", "Deliveries that failed for good."),
    ("mqlite_subscription_dead_lettered_total", "counter", "Failed deliveries dead-lettered."),
)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _line(name: str, labels: dict[str, str], value: float) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return (
        f"{name}{{{inner}}} {value!r}" if isinstance(value, float) else f"{name}{{{inner}}} {value}"
    )


def _family(out: list[str], name: str, kind: str, text: str, samples: Iterable[_Sample]) -> None:
    out.append(f"# HELP {name} {text}")
    out.append(f"# TYPE {name} {kind}")
    out.extend(_line(name, labels, value) for labels, value in samples)


def metrics_text(dashboard: Dashboard) -> str:
    """Every queue and subscription of the server's account, as Prometheus text."""
    families: dict[str, list[_Sample]] = {name: [] for name, _, _ in _QUEUE_METRICS}
    for (region, name), (_, snap) in sorted(dashboard.sample().items()):
        labels = {"region": region, "queue": name}
        for state in ("visible", "in_flight", "delayed"):
            families["mqlite_queue_messages"].append(
                ({**labels, "state": state}, getattr(snap, state))
            )
        if snap.oldest is not None:
            age = max(0.0, snap.time - snap.oldest)
            families["mqlite_queue_oldest_message_age_seconds"].append((labels, age))
        families["mqlite_queue_sent_total"].append((labels, snap.sent))
        families["mqlite_queue_received_total"].append((labels, snap.received))
        families["mqlite_queue_deleted_total"].append((labels, snap.deleted))
        if snap.groups is not None:
            families["mqlite_queue_fifo_groups"].append((labels, snap.groups))
    topic_families: dict[str, list[_Sample]] = {name: [] for name, _, _ in _TOPIC_METRICS}
    for topic in dashboard.api_topics()["topics"]:
        labels = {"region": topic["region"], "topic": topic["name"]}
        topic_families["mqlite_topic_published_total"].append((labels, topic["published"]))
        for sub in topic["subscriptions"]:
            sub_labels = {**labels, "subscription": sub["arn"], "endpoint": sub["endpoint"]}
            for field in ("delivered", "filtered", "failed", "dead_lettered"):
                topic_families[f"mqlite_subscription_{field}_total"].append(
                    (sub_labels, sub[field])
                )
    out: list[str] = []
    for name, kind, text in _QUEUE_METRICS:
        _family(out, name, kind, text, families[name])
    for name, kind, text in _TOPIC_METRICS:
        _family(out, name, kind, text, topic_families[name])
    return "\n".join(out) + "\n"
