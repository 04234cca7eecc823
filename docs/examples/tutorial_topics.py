from mqlite import Queue, Topic

events = Topic("object-events")
thumbnails = Queue("thumbnails")
audit = Queue("audit")
events.subscribe(thumbnails, raw_message_delivery=True,
                 filter_policy={"key": [{"prefix": "images/"}]})
events.subscribe(audit, raw_message_delivery=True)

events.publish("created", attributes={"key": "images/cat.png"})
events.publish("created", attributes={"key": "docs/report.pdf"})

assert [m.body for m in thumbnails.receive(10)] == ["created"]
assert len(audit.receive(10)) == 2
