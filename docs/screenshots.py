"""Regenerate the dashboard screenshots in docs/ (``python docs/screenshots.py``).

Starts a :class:`~mqlite.aws.Server` on a manual clock, plays a few minutes of traffic
through it (sampling the dashboard's history every 2 s of that clock, as a watching page
would), then photographs the pages with headless Chromium driven by Playwright
(``pip install playwright`` and Debian's ``chromium``; no browser is downloaded).
Pass ``--chromium PATH`` for another Chromium binary.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mqlite import ManualClock  # noqa: E402
from mqlite.aws import Server  # noqa: E402
from mqlite.aws._dashboard import SAMPLE_INTERVAL  # noqa: E402

OUT = ROOT / "docs"


def play(server: Server, clock: ManualClock) -> None:
    """A small shop: orders flowing through a worker, a topic fanning out, a DLQ."""
    rng = random.Random(7)
    east = server.broker("us-east-1")
    dlq = east.create_queue("orders-dlq")
    orders = east.create_queue("orders", dead_letter_queue=dlq, max_receive_count=3)
    emails = east.create_queue("emails")
    audit = east.create_queue("audit")
    payments = east.create_queue("payments.fifo", content_based_deduplication=True)
    reports = server.broker("eu-west-1").create_queue("reports")
    topic = east.create_topic("order-events")
    topic.subscribe(
        orders,
        filter_policy={"type": ["created"], "total": [{"numeric": [">", 0]}]},
        raw_message_delivery=True,
    )
    topic.subscribe(
        emails,
        filter_policy={"type": ["created", "shipped"], "customer": {"tier": ["gold"]}},
        filter_policy_scope="MessageBody",
    )
    topic.subscribe(audit)  # every event, in order
    dashboard = server.dashboard
    assert dashboard is not None
    steps = 90  # three minutes at one sample every 2 s
    for step in range(steps):
        load = 8 + 6 * abs((step % 40) - 20) / 20
        for _ in range(int(load)):
            kind = rng.choice(["created", "created", "shipped", "refunded"])
            tier = rng.choice(["gold", "silver"])
            body = {"type": kind, "customer": {"tier": tier}, "id": rng.randint(1, 9999)}
            topic.publish(
                json.dumps(body),
                attributes={"type": kind, "total": rng.randint(0, 300)},
            )
        for m in orders.receive(10, visibility_timeout=5):
            if rng.random() < 0.7:  # the rest fail, and after 3 tries go to the DLQ
                orders.delete(m)
        for m in emails.receive(int(load * 0.6) % 10 + 1):
            emails.delete(m)
        for m in audit.receive(10):
            audit.delete(m)
        if step % 3 == 0:
            reports.send(f"report {step}")
        for _ in range(3):
            payments.send(
                f"payment {rng.randint(1, 999)}", group_id=f"customer-{rng.randint(1, 6)}"
            )
        for m in payments.receive(2):
            payments.delete(m)
        clock.advance(SAMPLE_INTERVAL)
        dashboard.sample()
    orders.send('{"id": 42, "note": "<script>alert(1)</script> stays text"}')
    emails.send("waiting", delay=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    clock = ManualClock()
    with Server(port=0, clock=clock) as server:
        play(server, clock)
        base = server.endpoint_url
        shots = [
            ("dashboard-overview.png", "/", {"width": 1280, "height": 900}, True),
            (
                "dashboard-queue.png",
                "/#/queue/us-east-1/orders",
                {"width": 1280, "height": 900},
                True,
            ),
            ("dashboard-phone.png", "/", {"width": 390, "height": 844}, False),
        ]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=args.chromium, args=["--no-sandbox"]
            )
            for name, path, viewport, full in shots:
                page = browser.new_page(viewport=viewport, device_scale_factor=1)
                page.goto(base + path)
                page.wait_for_selector("#status:text('updated')")
                if "queue" in path:
                    page.wait_for_selector(".message")
                page.wait_for_timeout(300)  # the chart draws after the data arrives
                page.screenshot(path=str(OUT / name), full_page=full)
                page.close()
                print(f"wrote docs/{name}")
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
