from mqlite import Queue

orders = Queue("orders.fifo", content_based_deduplication=True)
for step in ["created", "paid", "shipped"]:
    orders.send(f"order-1 {step}", group_id="order-1")
orders.send("order-1 created", group_id="order-1")   # a duplicate: dropped

batch = orders.receive(10)
assert [m.body for m in batch] == ["order-1 created", "order-1 paid", "order-1 shipped"]
assert orders.receive(10) == []                       # the group waits for these
for m in batch:
    orders.delete(m)
