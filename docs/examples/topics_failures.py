from mqlite import Queue, RetryPolicy, Topic

topic = Topic("events", retry_policy=RetryPolicy(attempts=2))
dlq = Queue("events-dlq")
calls = []

def handler(notification):
    calls.append(notification.message_id)
    raise RuntimeError("downstream is down")

sub = topic.subscribe(handler, dead_letter_queue=dlq, raw_message_delivery=True)
topic.publish("payload")
assert len(calls) == 2                       # tried twice, immediately
assert dlq.receive()[0].body == "payload"    # the exact raw payload
assert (sub.failed, sub.dead_lettered) == (1, 1)
