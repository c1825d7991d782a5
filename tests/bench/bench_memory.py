"""Measure 5: resident memory of an idle bot process (tests/bench/idle_bot.py) by users stored.

The database is seeded with executemany: N users holding a realistic mid-hold state document and one
timer each, due tomorrow (so the scheduler has work queued but nothing fires). A separate case drives
1,000 users to mid-hold through Runtime.handle inside the bot process itself (sessions active).
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchlib import (
    Result,
    create_schema,
    holding_state,
    median,
    python_child,
    read_json_line,
    seed_users,
)

from dialogs.content import load_content
from dialogs.engine import Engine


def idle_rss(db: Path, sessions: int = 0, settle: float = 1.0) -> dict:
    child = python_child(
        "idle_bot.py", "--db", str(db), "--sessions", str(sessions), "--settle", str(settle), stdout=subprocess.PIPE
    )
    try:
        read_json_line(child)  # ready
        return read_json_line(child, timeout=300)
    finally:
        child.terminate()
        child.wait(10)


def seeded_db(folder: Path, users: int) -> Path:
    path = folder / f"memory-{users}.db"
    asyncio.run(create_schema(str(path)))
    if users:
        now = datetime.now(UTC)
        state, timer = holding_state(Engine(load_content()), now=now)
        tomorrow = now + timedelta(days=1)
        seed_users(str(path), users, state_json=state.to_json(), timer=("hold", [tomorrow] * users, timer.payload))
    return path


def run(quick: bool) -> list[Result]:
    repeats = 1 if quick else 2
    sessions = 100 if quick else 1_000
    settle = 0.5 if quick else 1.0
    rows: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="stretchbot-bench-") as tmp:
        folder = Path(tmp)
        dbs = {f"{users:,} users stored": seeded_db(folder, users) for users in (0, 10_000, 100_000)}
        for _ in range(repeats):  # interleaved, so drift on the machine touches every case alike
            for label, db in dbs.items():
                rows.setdefault(label, []).append(idle_rss(db, settle=settle))
            rows.setdefault(f"{sessions:,} sessions active", []).append(
                idle_rss(folder / "sessions.db", sessions=sessions, settle=settle)
            )
    rss = {label: median([r["rss_mb"] for r in runs]) for label, runs in rows.items()}
    objects = {label: int(median([r["gc_objects"] for r in runs])) for label, runs in rows.items()}
    base = rss["0 users stored"]
    results = []
    for label, value in rss.items():
        growth = value / base - 1
        target, met = "", None
        if label.startswith("100,000"):
            target, met = "within 10 % of none", abs(growth) <= 0.10
        results.append(
            Result(
                "memory",
                f"idle RSS, {label} (MB)",
                f"{value:.1f} ({growth:+.1%})",
                target,
                met,
                f"{objects[label]:,} gc objects (none stored: {objects['0 users stored']:,}); median of {repeats}",
            )
        )
    return results
