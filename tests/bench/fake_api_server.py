"""The fake Telegram Bot API (tests/telegram_fake.py) in its own process, steered over stdin/stdout.

Run by bench_telegram.py so that the fake's CPU does not count against the bot under test. One JSON
command per line on stdin, one JSON answer per line on stdout:
  {"cmd": "pollers"}                       -> {"pollers": n}        (bots long-polling right now)
  {"cmd": "load", "users": n, "first": id, "script": ["/start", "hello"]}
                                           -> {"queued": n_updates} (commands get a bot_command entity)
  {"cmd": "wait", "count": k, "timeout": s} -> {"elapsed": s from the last load to the k-th sendMessage,
                                               "sent": total} or {"error": ...}
  {"cmd": "sends"}                         -> {"sends": [[chat_id, text, unix time received], ...]}
  {"cmd": "reset"}                         -> {"ok": true}          (forget calls so far)
The first line printed is {"port": p}.
"""
from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for telegram_fake
from telegram_fake import Call, FakeBotApi  # noqa: E402


class TimedFakeBotApi(FakeBotApi):
    """Stamps every successful sendMessage with the wall-clock time it was answered."""

    def __init__(self) -> None:
        super().__init__()
        self.sends: list[tuple[int, str, float]] = []
        self.loaded_at = time.time()
        self.sent_changed = asyncio.Event()

    def _record(self, call: Call) -> None:
        if call.method == "sendMessage" and call.status == 200:
            self.sends.append((call.params.get("chat_id"), call.params.get("text", ""), time.time()))
            self.sent_changed.set()
        super()._record(call)


async def wait_for_sends(api: TimedFakeBotApi, count: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while len(api.sends) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return {"error": f"only {len(api.sends)} of {count} messages within {timeout}s", "sent": len(api.sends)}
        api.sent_changed.clear()
        try:
            await asyncio.wait_for(api.sent_changed.wait(), min(remaining, 1.0))
        except TimeoutError:
            pass
    return {"elapsed": api.sends[count - 1][2] - api.loaded_at, "sent": len(api.sends)}


async def answer(api: TimedFakeBotApi, command: dict) -> dict:
    kind = command["cmd"]
    if kind == "pollers":
        return {"pollers": api.waiting_pollers}
    if kind == "load":
        queued = 0
        api.loaded_at = time.time()
        for line in command["script"]:  # a round of one line for every user, then the next line
            for user in range(command["first"], command["first"] + command["users"]):
                (api.send_command if line.startswith("/") else api.send_text)(user, None, line)
                queued += 1
        return {"queued": queued}
    if kind == "wait":
        return await wait_for_sends(api, command["count"], command.get("timeout", 60))
    if kind == "sends":
        return {"sends": api.sends}
    if kind == "reset":
        api.sends.clear()
        api.calls.clear()
        return {"ok": True}
    return {"error": f"unknown command {kind!r}"}


async def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with TimedFakeBotApi() as api:
        print(json.dumps({"port": api.port}), flush=True)
        while line := await reader.readline():
            print(json.dumps(await answer(api, json.loads(line))), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
