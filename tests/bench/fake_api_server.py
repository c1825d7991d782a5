"""The fake Telegram Bot API (tests/telegram_fake.py) in its own process, steered over stdin/stdout.

A message sent is a successful sendMessage, sendPhoto, sendAnimation or sendDocument; a photo or animation
is an upload (multipart, a new file_id) or a reuse (a file_id the fake gave before). Run by
bench_telegram.py and bench_timers.py so that the fake's CPU does not count against the bot under test. One JSON
command per line on stdin, one JSON answer per line on stdout:
  {"cmd": "pollers"}                       -> {"pollers": n}        (bots long-polling right now)
  {"cmd": "load", "users": n, "first": id, "script": ["/start", "hello"]}
                                           -> {"queued": n_updates} (commands get a bot_command entity)
  {"cmd": "wait", "count": k, "timeout": s, "quiet": q}
                                           -> {"elapsed": s from the last load to the k-th message sent (with
                                               "quiet": to the last one, once none came for q seconds),
                                               "sent": total, "uploads": n, "reuses": n} or {"error": ...}
  {"cmd": "sends"}                         -> {"sends": [[chat_id, text or caption, unix time received], ...]}
  {"cmd": "reset"}                         -> {"ok": true}          (forget calls so far)
The first line printed is {"port": p}.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for telegram_fake
from telegram_fake import Call, FakeBotApi
from telegram_inspect import SENDS
from telegram_wire import Upload


class TimedFakeBotApi(FakeBotApi):
    """Stamps every message sent with the wall-clock time it was answered; counts picture uploads and reuses."""

    def __init__(self) -> None:
        super().__init__()
        self.sends: list[tuple[int, str, float]] = []
        self.uploads = self.reuses = 0
        self.loaded_at = time.time()
        self.sent_changed = asyncio.Event()

    def _record(self, call: Call) -> None:
        if call.method in SENDS and call.status == 200:
            text = call.params.get("text", call.params.get("caption", ""))
            self.sends.append((call.params.get("chat_id"), text or "", time.time()))
            media = call.params.get({"sendPhoto": "photo", "sendAnimation": "animation"}.get(call.method, ""))
            if media is not None:
                self.uploads += isinstance(media, Upload)
                self.reuses += isinstance(media, str)
            self.sent_changed.set()
        super()._record(call)


async def wait_for_sends(api: TimedFakeBotApi, count: int, timeout: float, quiet: float = 0.0) -> dict:
    deadline = time.monotonic() + timeout
    while len(api.sends) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return {"error": f"only {len(api.sends)} of {count} messages within {timeout}s", "sent": len(api.sends)}
        api.sent_changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(api.sent_changed.wait(), min(remaining, 1.0))
    last = count
    while quiet and time.monotonic() < deadline:  # more may follow the k-th: wait until none come
        api.sent_changed.clear()
        try:
            await asyncio.wait_for(api.sent_changed.wait(), quiet)
        except TimeoutError:
            last = len(api.sends)
            break
    return {
        "elapsed": api.sends[last - 1][2] - api.loaded_at,
        "sent": len(api.sends),
        "uploads": api.uploads,
        "reuses": api.reuses,
    }


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
        return await wait_for_sends(api, command["count"], command.get("timeout", 60), command.get("quiet", 0.0))
    if kind == "sends":
        return {"sends": api.sends}
    if kind == "reset":
        api.sends.clear()
        api.calls.clear()
        api.uploads = api.reuses = 0
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
