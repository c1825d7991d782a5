"""A bot process for measures 5 and 6: load content, build the engine, open storage, start the runtime's
scheduler and the sender (delivering to an in-process transport that renders each message), then
report on stdout as JSON lines.

    python tests/bench/idle_bot.py --db PATH [--sessions N] [--settle SECONDS] [--exit-when-ready]

First line: {"ready": seconds since this interpreter started, "cpu": CPU seconds used}. Unless
--exit-when-ready it then drives N users to mid-hold through Runtime.handle (their replies go through
the outbox and are sent), idles `settle` seconds with the scheduler and the sender running, prints
{"rss_mb": ..., "gc_objects": ..., "sent": ...} and waits to be terminated.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before the heavy imports: they are part of start-up

import argparse  # noqa: E402
import asyncio  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import psutil  # noqa: E402
from benchbot import RenderingTransport, sending  # noqa: E402

from bot.app import Core, Settings, make_parts, sender_for  # noqa: E402
from bot.runtime import Runtime, SystemClock  # noqa: E402
from bot.storage import UserKey, open_storage  # noqa: E402
from dialogs.events import Button, Command  # noqa: E402
from dialogs.state import UserState  # noqa: E402

SAFE_ANSWERS = ("low", "better", "no")  # the answer to each safety-screen screen that flags nothing


def report(**values: object) -> None:
    print(json.dumps(values), flush=True)


async def to_mid_hold(runtime: Runtime, key: UserKey, screens) -> None:
    """One user through /stretch, a safety screen with no flag, a routine and "ready": a hold is now running."""
    await runtime.handle(key, Command("stretch"), {"chat_id": int(key.user_id)})
    for _ in range(40):
        state = UserState.from_json((await runtime.storage.load(key)).state_json)
        if state.screen is not None and state.screen.id == "stretch.hold":
            return
        ids = screens.spec(state.screen).choice_ids()
        choice = next((c for c in (*SAFE_ANSWERS, "lower5", "ready") if c in ids), ids[0])
        await runtime.handle(key, Button(choice, state.screen_no))
    raise RuntimeError(f"user {key.user_id} never reached a hold")


async def main(args: argparse.Namespace) -> None:
    core = Core.load(Settings.from_env(os.environ))  # content, engine and renderer, as `stretchbot` builds them
    storage = await open_storage(f"sqlite:///{args.db}")
    parts = make_parts(core, storage, SystemClock(), "telegram")
    transport = RenderingTransport(parts)
    scheduler = asyncio.create_task(parts.runtime.run_scheduler())
    try:
        async with sending(sender_for(parts, transport), grace=5):
            await asyncio.sleep(0)  # the scheduler and the sender have asked storage for their next work
            report(ready=time.perf_counter() - STARTED, cpu=time.process_time())
            if args.exit_when_ready:
                return
            for n in range(args.sessions):
                await to_mid_hold(parts.runtime, UserKey("telegram", str(10_000_000 + n)), core.engine.screens)
            await asyncio.sleep(args.settle)
            gc.collect()
            report(
                rss_mb=psutil.Process(os.getpid()).memory_info().rss / 2**20,
                gc_objects=len(gc.get_objects()),
                sent=transport.sent,
            )
            await asyncio.sleep(3600)  # the parent terminates us
    finally:
        scheduler.cancel()
        await asyncio.gather(scheduler, return_exceptions=True)
        await storage.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--sessions", type=int, default=0)
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--exit-when-ready", action="store_true")
    asyncio.run(main(parser.parse_args()))
    sys.exit(0)
