"""Measure 6: start-up time to ready, content load and validation included.

Two ways, each the median of several fresh processes: tests/bench/idle_bot.py --exit-when-ready (imports,
load + validate content, build the engine, open storage, start the scheduler and the sender), timed from
spawning the interpreter to its "ready" line; and `python -m bot check-content` to exit. The CPU time
the process used is noted beside each: on a busy machine the wall time also holds the wait for a core.
"""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, Result, create_schema, median, python_child, read_json_line


def time_to_ready(db: Path) -> tuple[float, float, float]:
    """(seconds from spawn to the ready line, seconds the child counted from its first line, its CPU seconds)."""
    began = time.perf_counter()
    child = python_child("idle_bot.py", "--db", str(db), "--exit-when-ready", stdout=subprocess.PIPE)
    try:
        ready = read_json_line(child)
        outside = time.perf_counter() - began
    finally:
        child.wait(30)
    return outside, ready["ready"], ready["cpu"]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def check_content() -> tuple[float, float]:
    """(seconds to exit, CPU seconds it used)."""
    began, cpu = time.perf_counter(), children_cpu()
    subprocess.run([sys.executable, "-m", "bot", "check-content"], cwd=str(ROOT), check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began, children_cpu() - cpu


def run(quick: bool) -> list[Result]:
    runs = 3 if quick else 7
    with tempfile.TemporaryDirectory(prefix="stretchbot-bench-") as tmp:
        db = Path(tmp) / "startup.db"
        asyncio.run(create_schema(str(db)))  # a deployed bot finds its schema in place
        time_to_ready(db)  # warm the OS file cache once, as on a server that has run before
        readies = [time_to_ready(db) for _ in range(runs)]
    ready = median([outside for outside, _, _ in readies])
    inside = median([inside for _, inside, _ in readies])
    cpu = median([cpu for _, _, cpu in readies])
    checks = [check_content() for _ in range(runs)]
    check, check_cpu = median([wall for wall, _ in checks]), median([cpu for _, cpu in checks])
    return [
        Result(
            "start-up",
            "spawn to ready: content + engine + storage + scheduler + sender (s)",
            f"{ready:.2f}",
            "< 2 s",
            ready < 2.0,
            f"median of {runs}; {inside:.2f} s of it after the interpreter started; {cpu:.2f} s of CPU",
        ),
        Result(
            "start-up",
            "`python -m bot check-content` to exit (s)",
            f"{check:.2f}",
            "< 2 s",
            check < 2.0,
            f"median of {runs}; {check_cpu:.2f} s of CPU",
        ),
    ]
