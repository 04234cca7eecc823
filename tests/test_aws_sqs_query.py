"""SQS over the query protocol: forms in, XML out, as SQS's XML API spells them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest

from mqlite import ManualClock
from mqlite.aws._regions import Regions
from mqlite.aws._sqs_query import NAMESPACE, handle_sqs_query
from mqlite.aws._wire import Request, Response
from mqlite.message import Attribute, md5_of_attributes

NS = {"q": NAMESPACE}


@pytest.fixture
def regions() -> Regions:
    return Regions(clock=ManualClock())


def call(
    regions: Regions, form: dict[str, str] | bytes, path: str = "/"
) -> tuple[Response, ET.Element]:
    body = form if isinstance(form, bytes) else urlencode(form).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = handle_sqs_query(regions, Request("POST", path, headers, body))
    assert response.headers["Content-Type"] == "text/xml"
    return response, ET.fromstring(response.body)


def ok(regions: Regions, form: dict[str, str], path: str = "/") -> ET.Element:
    response, root = call(regions, form, path)
    assert response.status == 200, response.body
    action = form["Action"]
    assert root.tag == f"{{{NAMESPACE}}}{action}Response"
    request_id = root.find("q:ResponseMetadata/q:RequestId", NS)
    assert request_id is not None
    assert request_id.text == response.headers["x-amzn-RequestId"]
    return root


def error(regions: Regions, form: dict[str, str] | bytes, path: str = "/") -> tuple[int, str, str]:
    response, root = call(regions, form, path)
    assert root.tag == f"{{{NAMESPACE}}}ErrorResponse"
    assert root.findtext("q:Error/q:Type", namespaces=NS) in ("Sender", "Receiver")
    code = root.findtext("q:Error/q:Code", namespaces=NS)
    message = root.findtext("q:Error/q:Message", namespaces=NS)
    assert code is not None
    assert message is not None
    return response.status, code, message


def make_queue(regions: Regions, name: str = "jobs", **attributes: str) -> str:
    form = {"Action": "CreateQueue", "QueueName": name}
    for i, (key, value) in enumerate(attributes.items(), 1):
        form[f"Attribute.{i}.Name"] = key
        form[f"Attribute.{i}.Value"] = value
    url = ok(regions, form).findtext("q:CreateQueueResult/q:QueueUrl", namespaces=NS)
    assert url is not None
    return url


def test_create_with_attributes_and_tags_then_read_them_back(regions: Regions) -> None:
    form = {
        "Action": "CreateQueue",
        "Version": "2012-11-05",
        "QueueName": "jobs",
        "Attribute.1.Name": "VisibilityTimeout",
        "Attribute.1.Value": "45",
        "Attribute.2.Name": "DelaySeconds",
        "Attribute.2.Value": "3",
        "Tag.1.Key": "team",
        "Tag.1.Value": "a&b",
    }
    url = ok(regions, form).findtext("q:CreateQueueResult/q:QueueUrl", namespaces=NS)
    assert url == "https://sqs.us-east-1.amazonaws.com/000000000000/jobs"
    queue = regions.broker().get_queue("jobs")
    assert (queue.visibility_timeout, queue.delay) == (45, 3)

    root = ok(regions, {"Action": "GetQueueAttributes", "QueueUrl": url, "AttributeName.1": "All"})
    found = {
        a.findtext("q:Name", namespaces=NS): a.findtext("q:Value", namespaces=NS)
        for a in root.findall("q:GetQueueAttributesResult/q:Attribute", NS)
    }
    assert found["VisibilityTimeout"] == "45"
    assert found["DelaySeconds"] == "3"
    assert found["QueueArn"] == "arn:aws:sqs:us-east-1:000000000000:jobs"

    root = ok(regions, {"Action": "ListQueueTags", "QueueUrl": url})
    [tag] = root.findall("q:ListQueueTagsResult/q:Tag", NS)
    assert (tag.findtext("q:Key", namespaces=NS), tag.findtext("q:Value", namespaces=NS)) == (
        "team",
        "a&b",
    )


def test_list_queues_repeats_queue_url(regions: Regions) -> None:
    for name in ("a1", "a2", "b1"):
        make_queue(regions, name)
    root = ok(regions, {"Action": "ListQueues", "QueueNamePrefix": "a"})
    urls = [e.text for e in root.findall("q:ListQueuesResult/q:QueueUrl", NS)]
    assert [u.rsplit("/", 1)[1] for u in urls if u] == ["a1", "a2"]


def test_send_to_the_queue_path_and_receive_with_attributes(regions: Regions) -> None:
    make_queue(regions)
    form = {
        "Action": "SendMessage",
        "MessageBody": "line one\r\nline <two> & more",
        "MessageAttribute.1.Name": "colour",
        "MessageAttribute.1.Value.DataType": "String",
        "MessageAttribute.1.Value.StringValue": "blue",
        "MessageAttribute.2.Name": "blob",
        "MessageAttribute.2.Value.DataType": "Binary",
        "MessageAttribute.2.Value.BinaryValue": "AAEC",
    }
    # Posted to the queue's own URL path, the request needs no QueueUrl member.
    sent = ok(regions, form, path="/000000000000/jobs").find("q:SendMessageResult", NS)
    assert sent is not None
    expected = md5_of_attributes(
        {"colour": Attribute("String", "blue"), "blob": Attribute("Binary", b"\x00\x01\x02")}
    )
    assert sent.findtext("q:MD5OfMessageAttributes", namespaces=NS) == expected

    root = ok(
        regions,
        {
            "Action": "ReceiveMessage",
            "AttributeName.1": "All",
            "MessageAttributeName.1": "All",
            "MaxNumberOfMessages": "10",
        },
        path="/000000000000/jobs",
    )
    [message] = root.findall("q:ReceiveMessageResult/q:Message", NS)
    # \r survives the XML (a parser would otherwise turn it into \n).
    assert message.findtext("q:Body", namespaces=NS) == "line one\r\nline <two> & more"
    assert message.findtext("q:MessageId", namespaces=NS) == sent.findtext(
        "q:MessageId", namespaces=NS
    )
    attrs = {
        a.findtext("q:Name", namespaces=NS): a.find("q:Value", NS)
        for a in message.findall("q:MessageAttribute", NS)
    }
    colour, blob = attrs["colour"], attrs["blob"]
    assert colour is not None
    assert blob is not None
    assert colour.findtext("q:StringValue", namespaces=NS) == "blue"
    assert colour.findtext("q:DataType", namespaces=NS) == "String"
    assert blob.findtext("q:BinaryValue", namespaces=NS) == "AAEC"
    system = {
        a.findtext("q:Name", namespaces=NS): a.findtext("q:Value", namespaces=NS)
        for a in message.findall("q:Attribute", NS)
    }
    assert system["ApproximateReceiveCount"] == "1"
    assert message.findtext("q:MD5OfMessageAttributes", namespaces=NS) == expected


def test_batches_report_each_entry(regions: Regions) -> None:
    url = make_queue(regions)
    form = {
        "Action": "SendMessageBatch",
        "QueueUrl": url,
        "SendMessageBatchRequestEntry.1.Id": "a",
        "SendMessageBatchRequestEntry.1.MessageBody": "one",
        "SendMessageBatchRequestEntry.2.Id": "b",
        "SendMessageBatchRequestEntry.2.MessageBody": "two",
        "SendMessageBatchRequestEntry.2.DelaySeconds": "901",
    }
    root = ok(regions, form)
    [good] = root.findall("q:SendMessageBatchResult/q:SendMessageBatchResultEntry", NS)
    [bad] = root.findall("q:SendMessageBatchResult/q:BatchResultErrorEntry", NS)
    assert good.findtext("q:Id", namespaces=NS) == "a"
    assert bad.findtext("q:Id", namespaces=NS) == "b"
    assert bad.findtext("q:SenderFault", namespaces=NS) == "true"
    assert bad.findtext("q:Code", namespaces=NS) == "InvalidParameterValue"

    root = ok(regions, {"Action": "ReceiveMessage", "QueueUrl": url})
    handle = root.findtext("q:ReceiveMessageResult/q:Message/q:ReceiptHandle", namespaces=NS)
    assert handle is not None
    form = {
        "Action": "DeleteMessageBatch",
        "QueueUrl": url,
        "DeleteMessageBatchRequestEntry.1.Id": "x",
        "DeleteMessageBatchRequestEntry.1.ReceiptHandle": handle,
    }
    root = ok(regions, form)
    deleted = root.findall("q:DeleteMessageBatchResult/q:DeleteMessageBatchResultEntry", NS)
    assert [e.findtext("q:Id", namespaces=NS) for e in deleted] == ["x"]
    assert regions.broker().get_queue("jobs").stats().visible == 0


def test_missing_queue_uses_the_xml_api_wording(regions: Regions) -> None:
    status, code, message = error(regions, {"Action": "SendMessage", "MessageBody": "x"}, "/0/nope")
    assert status == 400
    assert code == "AWS.SimpleQueueService.NonExistentQueue"
    assert message == "The specified queue does not exist for this wsdl version."


def test_unknown_action_is_invalid_action(regions: Regions) -> None:
    assert error(regions, {"Action": "Explode"})[:2] == (400, "InvalidAction")
    assert error(regions, {})[:2] == (400, "InvalidAction")


_E = "SendMessageBatchRequestEntry"


@pytest.mark.parametrize(
    "extra",
    [
        # A gap in the numbering, a number that is not one, a bad integer, a value for a structure.
        {
            f"{_E}.1.Id": "a",
            f"{_E}.1.MessageBody": "x",
            f"{_E}.3.Id": "c",
            f"{_E}.3.MessageBody": "y",
        },
        {f"{_E}.01.Id": "a", f"{_E}.01.MessageBody": "x"},
        {f"{_E}.1.Id": "a", f"{_E}.1.MessageBody": "x", f"{_E}.1.DelaySeconds": "ten"},
        {f"{_E}.1": "flat"},
    ],
)
def test_malformed_forms_are_refused_and_change_nothing(
    regions: Regions, extra: dict[str, str]
) -> None:
    url = make_queue(regions)
    status, code, _ = error(regions, {"Action": "SendMessageBatch", "QueueUrl": url, **extra})
    assert (status, code) == (400, "InvalidParameterValue")
    assert regions.broker().get_queue("jobs").stats().visible == 0


def test_invalid_utf8_and_repeated_parameters_are_refused(regions: Regions) -> None:
    make_queue(regions)
    status, code, _ = error(regions, b"Action=SendMessage&MessageBody=\xff", "/000000000000/jobs")
    assert (status, code) == (400, "InvalidParameterValue")
    body = b"Action=SendMessage&MessageBody=a&MessageBody=b"
    status, code, _ = error(regions, body, "/000000000000/jobs")
    assert (status, code) == (400, "InvalidParameterValue")
    assert regions.broker().get_queue("jobs").stats().visible == 0


def test_missing_required_parameter(regions: Regions) -> None:
    assert error(regions, {"Action": "CreateQueue"})[:2] == (400, "MissingParameter")


def test_empty_list_and_permissions(regions: Regions) -> None:
    url = make_queue(regions)
    form = {
        "Action": "AddPermission",
        "QueueUrl": url,
        "Label": "share",
        "AWSAccountId.1": "111122223333",
        "ActionName.1": "SendMessage",
        "ActionName.2": "ReceiveMessage",
    }
    ok(regions, form)
    root = ok(
        regions, {"Action": "GetQueueAttributes", "QueueUrl": url, "AttributeName.1": "Policy"}
    )
    policy = root.findtext("q:GetQueueAttributesResult/q:Attribute/q:Value", namespaces=NS)
    assert policy is not None
    assert "111122223333" in policy
    assert "SQS:ReceiveMessage" in policy
    # An empty list is spelled as the bare name with an empty value.
    root = ok(regions, {"Action": "GetQueueAttributes", "QueueUrl": url, "AttributeName": ""})
    assert root.findall("q:GetQueueAttributesResult/q:Attribute", NS) == []
