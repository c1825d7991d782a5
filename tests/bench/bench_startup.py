"""Measure 6: start-up time to ready, content load and validation included.

Two ways, each the median of several fresh processes: tests/bench/idle_bot.py --exit-when-ready (imports,
load + validate content, build the engine, open storage, start the scheduler), timed from spawning
the interpreter to its "ready" line; and `python -m bot check-content` to exit.
"""
from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, Result, create_schema, median, python_child, read_json_line


def time_to_ready(db: Path) -> tuple[float, float]:
    """(seconds from spawn to the ready line, seconds the child counted from its first line)."""
    began = time.perf_counter()
    child = python_child("idle_bot.py", "--db", str(db), "--exit-when-ready", stdout=subprocess.PIPE)
    try:
        inside = read_json_line(child)["ready"]
        outside = time.perf_counter() - began
    finally:
        child.wait(30)
    return outside, inside


def check_content() -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bot", "check-content"], cwd=str(ROOT), check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def run(quick: bool) -> list[Result]:
    runs = 3 if quick else 7
    with tempfile.TemporaryDirectory(prefix="stretchbot-bench-") as tmp:
        db = Path(tmp) / "startup.db"
        asyncio.run(create_schema(str(db)))  # a deployed bot finds its schema in place
        time_to_ready(db)  # warm the OS file cache once, as on a server that has run before
        readies = [time_to_ready(db) for _ in range(runs)]
    ready = median([outside for outside, _ in readies])
    inside = median([inside for _, inside in readies])
    checks = [check_content() for _ in range(runs)]
    return [
        Result("start-up", "spawn to ready: content + engine + storage + scheduler (s)", f"{ready:.2f}",
               "< 2 s", ready < 2.0, f"median of {runs}; {inside:.2f} s of it after the interpreter started"),
        Result("start-up", "`python -m bot check-content` to exit (s)", f"{median(checks):.2f}", "< 2 s",
               median(checks) < 2.0, f"median of {runs}"),
    ]
