"""Issue 14's proof: two workers on PostgreSQL, one killed mid-burst, 0 cues lost.

Both workers run as in production: the scheduler loop (Runtime.run_scheduler) and the sender loop
(Sender.run) each, on one FakeClock, over their own PgStorage (tests/scale_world.py). Worker "a" is
killed (its tasks cancelled) at one of the moments a crash can hit a cue:
- claimed: it holds a batch of release timers, nothing saved: "b" fires them when their lease runs out;
- saved: a batch of halfway cues is committed, not one sent: "b"'s sender sends them;
- sent: its scheduler is done with the burst, but its sender sent halfway cues and never marked them
  sent: "b" sends exactly those again when their lease runs out (the only duplicates), and the release
  cues "b" queued behind them meanwhile wait their turn.
Every hold's cues reach the transport, in order per chat, and nothing is left in the outbox.
"""

from __future__ import annotations

import asyncio

import pytest
import storage_backends
from conftest import T0
from process_world import Delivery, Process, core_of
from scale_world import chat, hang, open_processes, pure_hold, seed, user

from bot import runtime as runtime_module
from bot.runtime import CLAIM_LEASE, FakeClock

pg_url = storage_backends.pg_url  # a throw-away PostgreSQL schema per test (a fixture)

USERS = 300  # all mid-hold, their halfway cues due at once
BATCH = 50  # timers per claim: each burst takes several claims, so the two workers' claims interleave
QUIET_SECONDS = 30  # real seconds a test waits for the workers to go idle at most


async def quiet(clock: FakeClock, live: list[Process]) -> None:
    """Wait until each live worker's scheduler and sender sleep on the fake clock, nothing left to do now."""

    async def idle() -> None:
        while True:
            await asyncio.gather(*(process.sender.settled() for process in live))
            for _ in range(10):  # let wake-ups scheduled meanwhile run
                await asyncio.sleep(0)
            if clock.sleepers == 2 * len(live):
                return

    await asyncio.wait_for(idle(), QUIET_SECONDS)


def cue_of(body: dict) -> str | None:
    keys = [line["key"] for line in body.get("say", {}).get("lines", [])]
    return next((cue for cue in ("halfway", "release") for key in keys if key.startswith(f"{cue}_")), None)


def record_commits(process: Process, committed: dict[str, list[str]]) -> None:
    """Note, per chat in commit order, every cue the worker's runtime commits to the outbox."""
    real_save_many = process.storage.save_many

    async def save_many(saves):
        results = await real_save_many(saves)
        for save, saved in zip(saves, results, strict=True):
            for message in save.outbox if saved else ():
                if cue := cue_of(message.body):
                    committed.setdefault(message.chat, []).append(cue)
        return results

    process.storage.save_many = save_many


def arm(a: Process, moment: str, dying: asyncio.Event) -> list:
    """Make worker `a` stop dead at `moment` (as a SIGKILL would find it); returns what it held then.
    Its scheduler is never cut off inside a transaction: "claimed" and "saved" stop it in a hook after
    the statement, and "sent" is killed once its scheduler sleeps again."""
    held: list = []
    if moment == "claimed":
        real_claim = a.storage.claim_due

        async def claim_then_hang(*args, **kwargs):
            rows = await real_claim(*args, **kwargs)
            if rows:
                held.extend(rows)
                dying.set()
                await hang()
            return rows

        a.storage.claim_due = claim_then_hang
    elif moment == "saved":
        real_save_many = a.storage.save_many

        async def save_then_hang(saves):
            results = await real_save_many(saves)
            held.extend(save.key for save, saved in zip(saves, results, strict=True) if saved and save.outbox)
            if held:
                dying.set()
                await hang()  # committed, and its sender never told
            return results

        a.storage.save_many = save_then_hang
    else:

        async def mark_hangs(row_id, owner):
            held.append(row_id)  # the send went out; the mark never comes
            dying.set()
            await hang()

        a.storage.mark_sent = mark_hangs
    return held


async def killed_when_ready(clock: FakeClock, a: Process, b: Process, moment: str, dying: asyncio.Event) -> None:
    """Wait until `a` stopped at its moment (for "sent": its sender hangs in marks, and its scheduler,
    like "b"'s scheduler and sender, sleeps), then kill it."""

    async def ready() -> None:
        await dying.wait()
        while moment == "sent":
            await b.sender.settled()
            for _ in range(10):
                await asyncio.sleep(0)
            if clock.sleepers == 4:  # both schedulers and both sender loops (a's sends hang, not sleep)
                break

    await asyncio.wait_for(ready(), QUIET_SECONDS)


@pytest.mark.parametrize("moment, burst", [("claimed", "release"), ("saved", "halfway"), ("sent", "halfway")])
async def test_two_workers_one_killed_mid_burst_lose_no_cue(pg_url, engine, monkeypatch, moment, burst):
    monkeypatch.setattr(runtime_module, "CLAIM_BATCH", BATCH)
    clock, deliveries, committed = FakeClock(T0), list[Delivery](), dict[str, list[str]]()
    a, b = await open_processes(pg_url, core_of(engine), clock, deliveries)
    model = pure_hold(engine)
    keys = [user(n) for n in range(USERS)]
    await seed(a.storage, keys, model.state, model.timers.items())
    for process in (a, b):
        record_commits(process, committed)
    tasks = {p.name: [asyncio.create_task(p.runtime.run_scheduler()), asyncio.create_task(p.sender.run())]
             for p in (a, b)}
    try:
        await quiet(clock, [a, b])
        if burst == "release":
            clock.advance(12.5)  # the halfway cues, both workers alive
            await quiet(clock, [a, b])
            assert {c: [cue_of(d.body) for d in deliveries if d.chat == c] for c in committed} == committed
        dying = asyncio.Event()
        held = arm(a, moment, dying)
        clock.advance(12.5)  # the burst "a" dies in
        await killed_when_ready(clock, a, b, moment, dying)
        for task in tasks["a"]:
            task.cancel()
        await asyncio.gather(*tasks["a"], return_exceptions=True)
        assert held, "a died holding nothing"
        died_at = clock.now()

        # "b" alone: time moves to each next timer or chat turn (a's leases included); a row another
        # worker committed without ringing b's doorbell is found at b's sender's next poll
        for _ in range(200):
            await quiet(clock, [b])
            moments = [m for m in (await b.storage.next_due(), await b.storage.next_outbox_due()) if m is not None]
            if not moments:
                break
            wait = (min(moments) - clock.now()).total_seconds()
            clock.advance(wait if wait > 0 else b.sender.poll_interval.total_seconds())
        else:
            pytest.fail("the workers never went idle")

        got = {c: [cue_of(d.body) for d in deliveries if d.chat == c and cue_of(d.body)] for c in committed}
        once = {c: [cue for i, cue in enumerate(cues) if i == 0 or cue != cues[i - 1]] for c, cues in got.items()}
        assert set(committed) == {chat(key) for key in keys}
        assert once == committed  # every committed cue reached the transport, in commit order per chat
        assert all(cues == ["halfway", "release"] for cues in committed.values())  # every hold, both cues
        duplicates = sum(len(got[c]) - len(once[c]) for c in got)
        assert duplicates == (len(held) if moment == "sent" else 0)  # only rows a sent and never marked
        stats = await b.storage.outbox_stats()
        assert (stats.depth, stats.dead_letters) == (0, 0) and await b.storage.next_due() is None
        if moment == "claimed":  # b fired a's timers when their lease ran out, a minute late
            taken_over = {d.chat: (d.process, d.at) for d in deliveries if cue_of(d.body) == "release"
                          and d.at > died_at}
            assert taken_over == {chat(row.key): ("b", died_at + CLAIM_LEASE) for row in held}
        if moment == "sent":  # a's sent-but-unmarked halfway cues went again when their lease ran out,
            # and only then did their chats' release cues (queued meanwhile) go
            again = [(d.chat, cue) for d in deliveries if d.at >= died_at + CLAIM_LEASE and (cue := cue_of(d.body))]
            assert len(again) == 2 * len(held) and all(
                again.index((c, "halfway")) < again.index((c, "release")) for c, _ in again)
        print(f"\nkilled after '{moment}' in the {burst} burst, holding {len(held)}: "
              f"{sum(map(len, got.values()))} cues delivered to {len(got)} chats, {duplicates} twice")
    finally:
        for task in tasks["b"]:
            task.cancel()
        await asyncio.gather(*tasks["a"], *tasks["b"], return_exceptions=True)
        await asyncio.gather(a.storage.close(), b.storage.close())
