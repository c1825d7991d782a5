"""A bot process for measures 5 and 6: load content, build the engine, open storage, start the runtime's
scheduler, then report on stdout as JSON lines.

    python tests/bench/idle_bot.py --db PATH [--sessions N] [--settle SECONDS] [--exit-when-ready]

First line: {"ready": seconds since this interpreter started}. Unless --exit-when-ready it then drives
N users to mid-hold through Runtime.handle, idles `settle` seconds with the scheduler running and prints
{"rss_mb": ..., "gc_objects": ...}, and waits to be terminated.
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

from bot.runtime import Runtime, SystemClock  # noqa: E402
from bot.storage import UserKey, open_storage  # noqa: E402
from dialogs.content import load_content  # noqa: E402
from dialogs.engine import Engine  # noqa: E402
from dialogs.model import Button, Command  # noqa: E402


def report(**values: object) -> None:
    print(json.dumps(values), flush=True)


async def to_mid_hold(runtime: Runtime, key: UserKey) -> None:
    """One user through /stretch, a clear triage, a routine and "ready": a hold is now running."""
    await runtime.handle(key, Command("stretch"), {"chat_id": int(key.user_id)})
    for _ in range(40):
        loaded = await runtime.storage.load(key)
        state = json.loads(loaded.state_json)
        ids = [choice for choice, _ in state["choices"]]
        phase = (state.get("session") or {}).get("phase")
        if phase == "holding":
            return
        choice = "low" if "low" in ids else "no" if "no" in ids else "ready" if "ready" in ids else ids[0]
        await runtime.handle(key, Button(choice, state["screen"]))
    raise RuntimeError(f"user {key.user_id} never reached a hold")


async def main(args: argparse.Namespace) -> None:
    engine = Engine(load_content())
    storage = await open_storage(f"sqlite:///{args.db}")
    delivered = 0

    async def deliver(key, address, actions) -> None:
        nonlocal delivered
        delivered += 1

    runtime = Runtime(engine, storage, clock=SystemClock(), deliver=deliver)
    scheduler = asyncio.create_task(runtime.run_scheduler())
    await asyncio.sleep(0)  # the scheduler has asked storage for the next timer
    report(ready=time.perf_counter() - STARTED)
    if args.exit_when_ready:
        scheduler.cancel()
        await storage.close()
        return
    for n in range(args.sessions):
        await to_mid_hold(runtime, UserKey("telegram", str(10_000_000 + n)))
    await asyncio.sleep(args.settle)
    gc.collect()
    report(rss_mb=psutil.Process(os.getpid()).memory_info().rss / 2**20, gc_objects=len(gc.get_objects()),
           delivered=delivered)
    await asyncio.sleep(3600)  # the parent terminates us


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--sessions", type=int, default=0)
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--exit-when-ready", action="store_true")
    asyncio.run(main(parser.parse_args()))
    sys.exit(0)
