"""The dashboard in a real browser: headless Chromium driven by Playwright, against a live
``Server`` fed by boto3. Skipped (with the reason) only where Chromium is not installed;
.ci/run installs Debian's ``chromium`` package."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from mqlite import ManualClock
from mqlite.aws import Server

CHROMIUM = os.environ.get("MQLITE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(
        "Chromium is not installed (apt-get install chromium; .ci/run does it)",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright  # noqa: E402

#: How long the page waits between polls (POLL_MS in dashboard.js).
POLL_MS = 2_000
#: How long an expect() waits for the page: well inside the 5 s a test may take.
WAIT_MS = 4_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def server(clock: ManualClock) -> Iterator[Server]:
    with Server(port=0, clock=clock) as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    alerts: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        # The purge button asks with confirm(); an alert() could only come from injected
        # markup, so any alert fails the test.
        if dialog.type == "alert":
            alerts.append(dialog.message)
        dialog.accept()

    opened.on("dialog", on_dialog)
    errors: list[str] = []
    opened.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield opened
        assert alerts == []
        assert errors == []
    finally:
        context.close()


def _sqs(server: Server, region: str = "us-east-1") -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=server.endpoint_url,
        region_name=region,
        aws_access_key_id="any",
        aws_secret_access_key="any",
        config=Config(retries={"max_attempts": 1}),
    )


def _row(page: Page, region: str, name: str) -> Any:
    return page.locator(f"tr[data-queue='{region}/{name}']")


def test_queue_list_shows_what_boto3_created(server: Server, page: Page) -> None:
    east, west = _sqs(server), _sqs(server, "eu-west-1")
    alpha = east.create_queue(QueueName="alpha")["QueueUrl"]
    east.create_queue(QueueName="beta.fifo", Attributes={"FifoQueue": "true"})
    west.create_queue(QueueName="gamma")
    east.send_message(QueueUrl=alpha, MessageBody="one")
    east.send_message(QueueUrl=alpha, MessageBody="two", DelaySeconds=30)
    page.goto(server.endpoint_url + "/")
    expect(page.locator("#queue-table tbody tr")).to_have_count(3)
    expect(_row(page, "us-east-1", "alpha").locator(".c-visible")).to_have_text("1")
    expect(_row(page, "us-east-1", "alpha").locator(".c-delayed")).to_have_text("1")
    expect(_row(page, "us-east-1", "beta.fifo").locator(".c-name")).to_contain_text("FIFO")
    expect(_row(page, "eu-west-1", "gamma").locator(".c-region")).to_have_text("eu-west-1")
    expect(page.locator("#account")).to_have_text("account 000000000000")


def test_counts_change_after_sends_without_a_reload(server: Server, page: Page) -> None:
    sqs = _sqs(server)
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    # The page's timers run on Playwright's clock, stopped: the test moves it, never waits.
    page.clock.install(time=0)
    page.clock.pause_at(1_000)
    page.goto(server.endpoint_url + "/")
    visible = _row(page, "us-east-1", "jobs").locator(".c-visible")
    expect(visible).to_have_text("0")
    page.evaluate("window.stillTheSamePage = true")
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(3)]
    )
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)
    page.clock.run_for(POLL_MS)
    expect(visible).to_have_text("1")  # the next poll brings it, no reload
    expect(_row(page, "us-east-1", "jobs").locator(".c-in_flight")).to_have_text("2")
    assert page.evaluate("window.stillTheSamePage") is True


def test_peek_shows_a_message_without_changing_its_receive_count(
    server: Server, page: Page
) -> None:
    sqs = _sqs(server)
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="look at me")
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)  # received once, visible again
    page.goto(server.endpoint_url + "/#/queue/us-east-1/jobs")
    message = page.locator(".message")
    expect(message.locator(".body")).to_have_text("look at me")
    expect(message.locator(".receive-count")).to_have_text("1")
    for _ in range(3):
        page.click("#peek-button")
        expect(message.locator(".receive-count")).to_have_text("1")
    [peeked] = server.broker().get_queue("jobs").peek()
    assert peeked.receive_count == 1
    [again] = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])[
        "Messages"
    ]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_purge_and_send_from_the_queue_page(server: Server, page: Page) -> None:
    queue = server.broker().create_queue("jobs")
    for i in range(4):
        queue.send(f"m{i}")
    page.goto(server.endpoint_url + "/#/queue/us-east-1/jobs")
    expect(page.locator(".q-visible")).to_have_text("4")
    page.click("#purge-button")  # the page asks first; the fixture accepts
    expect(page.locator("#action-result")).to_have_text("Purged.")
    expect(page.locator(".q-visible")).to_have_text("0")
    assert queue.stats().total == 0
    page.fill("#send-body", "hello from the page")
    page.click("#send-button")
    expect(page.locator(".message .body")).to_have_text("hello from the page")
    [m] = queue.receive()
    assert m.body == "hello from the page"


def test_redrive_moves_dead_letters_back_with_progress(
    server: Server, page: Page, clock: ManualClock
) -> None:
    broker = server.broker()
    dlq = broker.create_queue("jobs-dlq")
    source = broker.create_queue("jobs", dead_letter_queue=dlq, max_receive_count=1)
    for i in range(3):
        source.send(f"m{i}")
    source.receive(10, visibility_timeout=1)
    clock.advance(1)
    assert source.receive(10) == []  # over max_receive_count: moved to the DLQ
    assert dlq.stats().visible == 3
    page.goto(server.endpoint_url + "/#/queue/us-east-1/jobs-dlq")
    expect(page.locator("#redrive-button")).to_be_visible()
    page.fill("#redrive-rate", "1")
    page.click("#redrive-button")
    expect(page.locator("#action-result")).to_have_text("Redrive started: 3 to move.")
    [task] = dlq.redrive_tasks()
    clock.advance(1)
    assert task.wait_until_idle(timeout=5)
    page.click("#peek-button")
    expect(page.locator(".task-progress")).to_have_text("1 / 3 moved")
    expect(page.locator(".task-status")).to_have_text("RUNNING")
    clock.advance(2)
    assert task.wait_until_idle(timeout=5)
    task.join(timeout=5)
    page.click("#peek-button")
    expect(page.locator(".task-status")).to_have_text("COMPLETED")
    expect(page.locator(".task-progress")).to_have_text("3 / 3 moved")
    assert source.stats().visible == 3
    assert dlq.stats().total == 0


def test_an_xss_body_renders_as_text(server: Server, page: Page) -> None:
    hostile = "<script>alert(1)</script>"
    queue = server.broker().create_queue("jobs")
    queue.send(hostile, attributes={"note": '<img src=x onerror="alert(2)">'})
    topic = server.broker().create_topic("events")

    def handler(_: object) -> None:
        raise RuntimeError("<b>bold</b>")

    handler.__qualname__ = "<img src=x onerror=alert(3)>"
    topic.subscribe(handler)
    topic.subscribe(queue, filter_policy={"kind": ["<script>alert(4)</script>"]})
    topic.publish("x")
    page.goto(server.endpoint_url + "/#/queue/us-east-1/jobs")
    body = page.locator(".message .body").first
    expect(body).to_have_text(hostile)
    expect(page.locator(".message .meta").nth(1)).to_contain_text('onerror="alert(2)"')
    assert page.locator("#messages script, #messages img").count() == 0
    page.goto(server.endpoint_url + "/")
    expect(page.locator(".sub .endpoint").first).to_have_text("<img src=x onerror=alert(3)>")
    expect(page.locator(".sub .error")).to_contain_text("<b>bold</b>")
    expect(page.locator(".policy")).to_contain_text("<script>alert(4)</script>")
    assert page.locator("#topics script, #topics img, #topics b.bold").count() == 0
    assert page.evaluate("document.querySelectorAll('main script, main img').length") == 0


def test_read_only_hides_the_buttons(clock: ManualClock, page: Page) -> None:
    with Server(port=0, clock=clock, read_only=True) as server:
        queue = server.broker().create_queue("jobs")
        queue.send("keep me")
        page.goto(server.endpoint_url + "/#/queue/us-east-1/jobs")
        expect(page.locator(".message .body")).to_have_text("keep me")
        expect(page.locator("#read-only")).to_be_visible()
        expect(page.locator("#purge-button")).to_be_hidden()
        expect(page.locator("#send-button")).to_be_hidden()
        assert queue.stats().visible == 1


def test_a_phone_sized_screen_shows_every_column(server: Server, page: Page) -> None:
    server.broker().create_queue("jobs").send("x")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server.endpoint_url + "/")
    row = _row(page, "us-east-1", "jobs")
    expect(row.locator(".c-visible")).to_have_text("1")
    for cell in ("c-name", "c-visible", "c-in_flight", "c-dlq"):
        box = row.locator(f".{cell}").bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 390  # no sideways scrolling on a phone
