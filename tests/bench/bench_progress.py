"""Measure: /progress for a user with 2 years of daily sessions (730 sessions, ~2,500 ratings).

What /progress computes from the loaded history, timed one call at a time: the figures (summarize), the
words (progress_text) and the console's text chart; then the same plus the chart picture (PNG), which is
what Telegram and Discord send. Loading the rows from the database is the storage's, not measured here.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from benchlib import Result, fmt, median, percentile

from bot.pictures.chart import render_chart
from dialogs.content import load_content
from dialogs.progress import FeedbackRecord, SessionRecord, summarize
from dialogs.progress_text import progress_text, text_chart

NOW = datetime(2026, 3, 20, 19, 0, tzinfo=UTC)
TARGET_MS = 100.0
ZONE = "Europe/Berlin"


def history(days: int = 730, seed: int = 16) -> tuple[list[SessionRecord], list[FeedbackRecord]]:
    """One session a day for `days` days, 3-5 rated stretches each, a few stops for pain, scores sometimes."""
    rnd = random.Random(seed)
    sessions, feedback = [], []
    for back in range(days):
        ended = NOW - timedelta(days=back, minutes=rnd.randint(0, 600))
        stretches = rnd.choice([3, 3, 3, 5])
        pain = rnd.random() < 0.02
        with_scores = rnd.random() < 0.4
        sessions.append(
            SessionRecord(
                ended,
                "referral" if pain else "completed",
                "gentle" if stretches == 5 else "lower5",
                stretches - pain,
                30 * stretches,
                rnd.randint(1, 6) if with_scores else None,
                rnd.randint(0, 5) if with_scores else None,
                pain,
            )
        )
        for index in range(stretches):
            rating = "pain" if pain and index == stretches - 1 else rnd.choice(["good", "good", "tight", "skipped"])
            feedback.append(
                FeedbackRecord(ended - timedelta(minutes=stretches - index), "lower5", f"s{index}", rating, 25)
            )  # type: ignore[arg-type]  # a valid rating literal
    return sessions, feedback


def _time(call, repeats: int) -> list[float]:
    call()  # warm: zoneinfo caches, fonts
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def run(quick: bool) -> list[Result]:
    content = load_content()
    sessions, feedback = history()
    repeats = 15 if quick else 60

    def text_only() -> None:
        summary = summarize(sessions, feedback, NOW, ZONE)
        progress_text(summary, content.progress)
        text_chart(summary.series, content.progress.chart)

    def with_picture() -> None:
        summary = summarize(sessions, feedback, NOW, ZONE)
        progress_text(summary, content.progress)
        render_chart(summary.series, content.progress.chart)

    size = f"{len(sessions)} sessions, {len(feedback):,} ratings"
    results = []
    for figure, call in (
        (f"summary + words + text chart ({size}), median ms", text_only),
        (f"summary + words + PNG chart ({size}), median ms", with_picture),
    ):
        samples = _time(call, repeats)
        middle = median(samples)
        results.append(
            Result(
                "progress",
                figure,
                fmt(middle, 1),
                f"< {TARGET_MS:.0f}",
                middle < TARGET_MS,
                f"p95 {fmt(percentile(samples, 0.95), 1)} ms over {repeats} runs",
            )
        )
    return results
