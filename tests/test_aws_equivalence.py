"""The same operations give the same results through boto3 + ``mock_aws`` and the Python API."""

from __future__ import annotations

import hashlib
from typing import Any

import boto3
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from mqlite import Attribute, ManualClock, Message, MqliteError, Queue
from mqlite.aws import mock_aws
from mqlite.message import md5_of_attributes

_ATTRIBUTES = st.dictionaries(
    st.sampled_from(["a", "b", "Hello", "x.y"]),
    st.one_of(
        st.builds(lambda v: Attribute("String", v), st.text("abc é", min_size=1, max_size=5)),
        st.builds(lambda v: Attribute("Number", str(v)), st.integers(-1000, 1000)),
        st.builds(lambda v: Attribute("Binary", v), st.binary(min_size=1, max_size=4)),
    ),
    max_size=3,
)

_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("send"), _ATTRIBUTES, st.integers(0, 3)),
        st.tuples(st.just("receive"), st.integers(1, 10), st.integers(0, 5)),
        st.tuples(st.just("delete"), st.integers(0, 20)),
        st.tuples(st.just("visibility"), st.integers(0, 20), st.integers(0, 5)),
        st.tuples(st.just("advance"), st.integers(0, 4)),
    ),
    max_size=25,
)


def _wire_attributes(attributes: dict[str, Attribute]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, attr in attributes.items():
        key = "BinaryValue" if isinstance(attr.value, bytes) else "StringValue"
        out[name] = {"DataType": attr.data_type, key: attr.value}
    return out


def _from_wire(message: dict[str, Any]) -> tuple[str, dict[str, Attribute], int]:
    attributes = {
        name: Attribute(v["DataType"], v.get("StringValue", v.get("BinaryValue")))
        for name, v in message.get("MessageAttributes", {}).items()
    }
    # Every digest the wire carries is SQS's exact one.
    assert message["MD5OfBody"] == hashlib.md5(message["Body"].encode()).hexdigest()
    assert message.get("MD5OfMessageAttributes") == md5_of_attributes(attributes)
    return message["Body"], attributes, int(message["Attributes"]["ApproximateReceiveCount"])


def _from_api(message: Message) -> tuple[str, dict[str, Attribute], int]:
    return message.body, message.attributes, message.receive_count


@settings(max_examples=40, deadline=None)
@given(_OPS)
def test_boto3_and_the_python_api_agree(ops: list[tuple[Any, ...]]) -> None:
    api_clock, wire_clock = ManualClock(), ManualClock()
    queue = Queue("q", clock=api_clock, visibility_timeout=2)
    with mock_aws(clock=wire_clock):
        sqs: Any = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
        api_handles: list[str] = []
        wire_handles: list[str] = []
        for n, op in enumerate(ops):
            if op[0] == "send":
                _, attributes, delay = op
                body = f"m{n}"
                api = queue.send(body, attributes=attributes, delay=delay)
                wire = sqs.send_message(
                    QueueUrl=url,
                    MessageBody=body,
                    DelaySeconds=delay,
                    **({"MessageAttributes": _wire_attributes(attributes)} if attributes else {}),
                )
                assert wire["MD5OfMessageBody"] == api.md5_of_body
                assert wire.get("MD5OfMessageAttributes") == api.md5_of_attributes
            elif op[0] == "receive":
                _, count, visibility = op
                got_api = queue.receive(count, visibility_timeout=visibility)
                got_wire = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=count,
                    VisibilityTimeout=visibility,
                    MessageAttributeNames=["All"],
                    MessageSystemAttributeNames=["ApproximateReceiveCount"],
                ).get("Messages", [])
                assert [_from_wire(m) for m in got_wire] == [_from_api(m) for m in got_api]
                api_handles += [str(m.receipt_handle) for m in got_api]
                wire_handles += [m["ReceiptHandle"] for m in got_wire]
            elif op[0] == "delete" and op[1] < len(api_handles):
                queue.delete(api_handles[op[1]])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=wire_handles[op[1]])
            elif op[0] == "visibility" and op[1] < len(api_handles):
                _, index, timeout = op
                # A handle whose message was deleted (or came back) is refused by both alike.
                api_code = wire_code = None
                try:
                    queue.change_visibility(api_handles[index], timeout)
                except MqliteError as e:
                    api_code = e.code
                try:
                    sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=wire_handles[index], VisibilityTimeout=timeout
                    )
                except ClientError as e:
                    wire_code = e.response["Error"]["Code"]
                assert wire_code == api_code
            elif op[0] == "advance":
                api_clock.advance(op[1])
                wire_clock.advance(op[1])
            stats = queue.stats()
            counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            assert (
                int(counts["ApproximateNumberOfMessages"]),
                int(counts["ApproximateNumberOfMessagesNotVisible"]),
                int(counts["ApproximateNumberOfMessagesDelayed"]),
            ) == (stats.visible, stats.in_flight, stats.delayed)
