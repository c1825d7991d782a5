"""Shared helpers for the benchmark suite: results, statistics, machine facts, subprocesses, seeding.

Every measure returns `Result` lines (one figure each, with its target when it has one), so run.py can
print a single table. Machines are noisy: measures repeat and report medians.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
BENCH_DIR = Path(__file__).resolve().parent
for _path in (str(ROOT), str(BENCH_DIR.parent), str(BENCH_DIR)):  # the project, tests/ helpers, benches
    if _path not in sys.path:
        sys.path.insert(0, _path)
# local fake servers must never be reached through a proxy (httpx honours proxy variables)
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")


@dataclass
class Result:
    measure: str  # e.g. "engine"
    figure: str  # what was measured, e.g. "steps/s (1 core)"
    value: str  # formatted figure, e.g. "41,200"
    target: str = ""  # e.g. ">= 10,000"; empty: information only
    met: bool | None = None  # None: no target, or could not be measured
    note: str = ""

    @property
    def verdict(self) -> str:
        if not self.target:
            return ""
        return "n/a" if self.met is None else ("met" if self.met else "NOT met")


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1) of a non-empty list."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)


def fmt(number: float, digits: int = 0) -> str:
    return f"{number:,.{digits}f}"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_lines() -> list[str]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"date:    {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"machine: {cpu_model()}, {cores} cores available ({os.cpu_count()} online), {platform.system()}",
        f"python:  {platform.python_implementation()} {platform.python_version()}, SQLite {sqlite3.sqlite_version}",
        f"load:    {load_note()}",
        f"speed:   {reference_ms():.0f} ms for a fixed pure-Python workload (best of 5; compare machines by it)",
    ]


def reference_ms() -> float:
    """A yardstick of this machine's single-core Python speed, so a figure can be told apart from the
    machine it came from: dict, string and integer work, as the engine does."""
    import timeit

    def work() -> None:
        table: dict[str, int] = {}
        for n in range(100_000):
            key = f"k{n % 1000}"
            table[key] = table.get(key, 0) + n * n % 7

    return min(timeit.repeat(work, number=1, repeat=5)) * 1000


def load_note() -> str:
    """Other work on the machine skews every figure (tails most): say how busy it was."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "unknown"
    cores = os.cpu_count() or 1
    busy = " (BUSY: other processes were competing for the CPU; tails are inflated)" if five > cores / 2 else ""
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {cores} cores{busy}"


def python_child(script: str, *args: str, **popen: object) -> subprocess.Popen:
    """Start a bench script (a file in tests/bench) in another Python process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH_DIR)])}
    return subprocess.Popen([sys.executable, str(BENCH_DIR / script), *args], env=env, cwd=str(ROOT), **popen)


def read_json_line(process: subprocess.Popen, timeout: float = 120.0) -> dict:
    """The next JSON line a child prints on stdout (other lines are skipped)."""
    import selectors

    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            if not selector.select(timeout):
                raise TimeoutError(f"{process.args[1]} said nothing for {timeout}s")
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"{process.args[1]} exited ({process.wait()}) before answering")
            line = line.decode() if isinstance(line, bytes) else line
            if line.startswith("{"):
                return json.loads(line)


# ---- states and seeding --------------------------------------------------------------------------
def holding_state(engine, routine: str = "lower5", now: datetime | None = None, time_scale: float = 1.0):
    """A real engine state mid-hold (safety screen passed, first stretch held), and its hold timer action,
    its due time sped up by `time_scale` as the runtime would store it."""
    from dataclasses import replace

    from dialogs.events import Button, Command, ScheduleTimer
    from dialogs.state import UserState

    now = now or datetime.now(UTC)
    step = engine.handle(UserState(), Command("stretch"), now)
    while step.state.screen is not None and step.state.screen.id.startswith("screening."):
        ids = engine.screens.spec(step.state.screen).choice_ids()
        answer = next(choice for choice in ("low", "better", "no") if choice in ids)
        step = engine.handle(step.state, Button(answer, step.state.screen_no), now)
    step = engine.handle(step.state, Button(routine, step.state.screen_no), now)
    step = engine.handle(step.state, Button("ready", step.state.screen_no), now)
    timer = next(a for a in step.actions if isinstance(a, ScheduleTimer))
    if timer.scalable:
        timer = replace(timer, due=now + (timer.due - now) * time_scale)
    return step.state, timer


def seed_users(
    path: str,
    count: int,
    *,
    platform_name: str = "telegram",
    state_json: str | list[str] | None = None,
    timer: tuple[str, list[datetime], dict] | None = None,
    first_id: int = 1,
) -> None:
    """Write `count` users (and optionally one timer each) straight into the schema with executemany.

    The schema must exist (open the storage once first). `state_json` is one document for all, or one
    per user; `timer` is (name, due per user, payload)."""
    from bot.storage import to_ms

    states = state_json if isinstance(state_json, list) else [state_json or '{"schema":1}'] * count
    now_ms = to_ms(datetime.now(UTC))
    db = sqlite3.connect(path)
    try:
        ids = [str(first_id + i) for i in range(count)]
        db.executemany(
            "INSERT INTO users (platform, user_id, address, state, version, created_ms, updated_ms)"
            " VALUES (?, ?, ?, ?, 1, ?, ?)",
            (
                (platform_name, uid, json.dumps({"chat_id": int(uid)}), state, now_ms, now_ms)
                for uid, state in zip(ids, states, strict=True)
            ),
        )
        if timer is not None:
            name, dues, payload = timer
            payload_json = json.dumps(payload, separators=(",", ":"), sort_keys=True)
            rows = ((platform_name, uid, name, to_ms(due), payload_json) for uid, due in zip(ids, dues, strict=True))
            db.executemany("INSERT INTO timers (platform, user_id, name, due_ms, payload) VALUES (?, ?, ?, ?, ?)", rows)
        db.commit()
    finally:
        db.close()


@asynccontextmanager
async def pg_schema():
    """A PostgreSQL URL whose tables live in a fresh schema of their own (dropped afterwards), or None when
    no server answers. Like tests/storage_backends.py, but with the server's own commit settings: that
    module turns synchronous_commit off for speed, which a measure of commits must not."""
    import asyncpg

    url = os.environ.get("STRETCHBOT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        admin = await asyncpg.connect(url, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError):
        yield None
        return
    schema = f"stretchbot_bench_{uuid.uuid4().hex[:12]}"
    await admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{url}{'&' if '?' in url else '?'}search_path={schema}"
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


async def create_schema(path: str) -> None:
    from bot.storage import open_storage

    storage = await open_storage(f"sqlite:///{path}")
    await storage.close()


def shifted_state(state, started: datetime):
    """A copy of a holding state whose session and hold started at `started`."""
    copy = state.model_copy(deep=True)
    copy.session.started_at = started
    copy.session.phase.hold_started_at = started
    return copy


def seconds(delta: timedelta) -> float:
    return delta.total_seconds()
