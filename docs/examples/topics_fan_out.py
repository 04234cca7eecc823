import json

from mqlite import Queue, Topic

orders = Topic("orders")
audit = Queue("audit")
big = Queue("big-orders")
seen = []

orders.subscribe(audit)                                           # everything
orders.subscribe(big, filter_policy={"total": [{"numeric": [">=", 100]}]},
                 raw_message_delivery=True)                        # bare body
orders.subscribe(lambda n: seen.append(n.message))               # a callable

result = orders.publish("order 17", subject="new", attributes={"total": 250})

envelope = json.loads(audit.receive()[0].body)
assert envelope["Type"] == "Notification"
assert envelope["MessageId"] == result.message_id
assert envelope["Message"] == "order 17"
assert envelope["MessageAttributes"]["total"] == {"Type": "Number", "Value": "250"}
assert big.receive()[0].body == "order 17"
assert seen == ["order 17"]
