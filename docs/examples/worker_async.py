import asyncio

from mqlite import Message, Queue
from mqlite.worker import AsyncWorker


async def main() -> None:
    q = Queue("async-jobs")
    for i in range(5):
        await q.send_async(str(i))
    got = []

    async def handle(m: Message) -> None:
        got.append(m.body)

    async with AsyncWorker(q, handle, concurrency=3) as w:
        assert await w.wait_idle(10)         # all five handled and deleted
    assert sorted(got) == ["0", "1", "2", "3", "4"]
    assert q.stats().in_flight == 0

asyncio.run(main())
