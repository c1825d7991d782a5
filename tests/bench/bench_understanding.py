"""Measure: the understanding layer (dialogs/understanding) on its own, one core.

- per read: every utterance of the labelled corpus (tests/understanding/*.yaml) read on the screen it
  was typed on, timed one by one; p50 and p99 over a few passes;
- long messages: a message of 100 kB and one of 1 MB with the pain words at the very end, read whole:
  the time, and their ratio (10 for a linear reading);
- building the reader from the content (once per process).
"""

from __future__ import annotations

import sys
import time

from benchlib import BENCH_DIR, Result, fmt, median, percentile

sys.path.insert(0, str(BENCH_DIR.parent / "understanding"))
from corpus import CHATTER, load
from screens import expectation

from dialogs.content import load_content
from dialogs.understanding import Pain, Reader

TYPICAL_P50_US, TYPICAL_P99_US = 50.0, 500.0
LONG_100K_MS = 150.0
LINEAR_RATIO = 15.0  # 1 MB / 100 kB: 10 when linear; some slack for a noisy machine


def _long(size: int) -> str:
    return (CHATTER * (size // len(CHATTER) + 1))[:size] + " and now my back really hurts"


def run(quick: bool) -> list[Result]:
    content = load_content()
    began = time.perf_counter()
    reader = Reader(content.phrases, content.places)
    build_ms = (time.perf_counter() - began) * 1000
    cases = [(c.text, c.expectation) for c in load() if len(c.text) <= 4096]  # Telegram's longest message
    for text, expect in cases:  # warm up (typo memo, label cache)
        reader.read(text, expect)
    timings: list[float] = []
    for _ in range(2 if quick else 5):
        for text, expect in cases:
            started = time.perf_counter_ns()
            reader.read(text, expect)
            timings.append((time.perf_counter_ns() - started) / 1000)
    p50, p99 = percentile(timings, 0.5), percentile(timings, 0.99)

    hold = expectation("stretch.hold")
    long_times: dict[int, float] = {}
    for size in (100_000, 1_000_000):
        text = _long(size)
        rounds = []
        for _ in range(1 if quick else 3):
            started = time.perf_counter()
            reading = reader.read(text, hold)
            rounds.append((time.perf_counter() - started) * 1000)
        assert isinstance(reading, Pain), reading  # the words at the end were read
        long_times[size] = median(rounds)
    ratio = long_times[1_000_000] / long_times[100_000]
    return [
        Result(
            "understanding",
            "per read p50 / p99 (us), corpus",
            f"{p50:.1f} / {p99:.1f}",
            f"p50 < {TYPICAL_P50_US:.0f}, p99 < {TYPICAL_P99_US:.0f}",
            p50 < TYPICAL_P50_US and p99 < TYPICAL_P99_US,
            f"{len(cases)} utterances on their screens, {len(timings):,} timed reads",
        ),
        Result(
            "understanding",
            "100 kB message read whole (ms)",
            fmt(long_times[100_000], 1),
            f"< {LONG_100K_MS:.0f}",
            long_times[100_000] < LONG_100K_MS,
            "pain words after 100,000 characters",
        ),
        Result(
            "understanding",
            "1 MB / 100 kB time (linear: 10)",
            fmt(ratio, 1),
            f"<= {LINEAR_RATIO:.0f}",
            ratio <= LINEAR_RATIO,
            f"1 MB in {fmt(long_times[1_000_000], 0)} ms",
        ),
        Result("understanding", "reader build (ms, once per content)", fmt(build_ms, 1)),
    ]
