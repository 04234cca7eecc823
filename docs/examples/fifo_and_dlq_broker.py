from mqlite.broker import Broker
from mqlite.clock import ManualClock

broker = Broker(clock=ManualClock(), region="eu-west-1", account_id="123456789012")
jobs = broker.create_queue("jobs", visibility_timeout=60)
assert broker.create_queue("jobs", visibility_timeout=60) is jobs
assert jobs.arn == "arn:aws:sqs:eu-west-1:123456789012:jobs"
assert [q.name for q in broker.list_queues("j")] == ["jobs"]
