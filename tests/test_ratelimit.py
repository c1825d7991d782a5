"""The sliding-window limiter and the platforms' declared rates (bot/ratelimit.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.ratelimit import EDGE, SWEEP_EVERY, Limiter, Rate, discord_rates, telegram_rates


def test_a_rate_allows_its_count_per_period_then_says_how_long_to_wait():
    limiter, rate = Limiter(), [Rate("chat", 3, 3.0)]
    assert [limiter.take(rate, 10.0) for _ in range(3)] == [0, 0, 0]
    assert limiter.take(rate, 10.5) == pytest.approx(2.5)  # the first send leaves the window at 13
    assert limiter.take(rate, 13.0) == 0


def test_a_send_counts_in_every_bucket_and_waits_for_the_fullest():
    limiter = Limiter()
    overall = Rate("telegram", 2, 1.0)
    assert limiter.take([overall, Rate("a", 1, 1.0)], 0.0) == 0
    assert limiter.take([overall, Rate("b", 1, 1.0)], 0.1) == 0
    assert limiter.take([overall, Rate("c", 1, 1.0)], 0.2) == pytest.approx(0.8)  # overall is full
    assert limiter.take([overall, Rate("a", 1, 1.0)], 1.0) == 0
    assert limiter.wait([overall, Rate("b", 1, 1.0)], 1.05) == pytest.approx(0.05)  # b's own window
    assert limiter.take([], 1.0) == 0


def test_a_refused_take_records_nothing():
    limiter, rate = Limiter(), [Rate("chat", 1, 1.0)]
    assert limiter.take(rate, 0.0) == 0
    for moment in (0.1, 0.2, 0.9):
        assert limiter.take(rate, moment) > 0
    assert limiter.take(rate, 1.0) == 0


def test_idle_buckets_are_swept():
    limiter = Limiter()
    for n in range(SWEEP_EVERY - 1):
        limiter.take([Rate(f"chat{n}", 1, 1.0)], float(n) / 1000)
    assert len(limiter) == SWEEP_EVERY - 1
    limiter.take([Rate("late", 1, 1.0)], 100.0)  # the SWEEP_EVERY-th take sweeps
    assert len(limiter) == 1


@given(st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=200))
def test_no_window_ever_holds_more_than_the_count(gaps):
    limiter, rate = Limiter(), Rate("chat", 5, 2.0)
    now, sent = 0.0, []
    for gap in gaps:
        now += gap
        wait = limiter.take([rate], now)
        if wait == 0:
            sent.append(now)
        else:
            assert wait > 0 and limiter.take([rate], now + wait) == 0  # exactly then it is allowed
            sent.append(now + wait)
            now += wait
    for index, moment in enumerate(sent):  # windows are kept to the microsecond (EDGE)
        assert sum(1 for other in sent[index:] if other < moment + rate.period - EDGE) <= rate.count


def test_telegram_and_discord_declare_their_published_limits():
    private = telegram_rates("telegram:12345")
    assert [(r.bucket, r.count, r.period) for r in private] == [("telegram", 30, 1.0), ("telegram:12345", 3, 3.0)]
    group = telegram_rates("telegram:-100200300")
    assert ("group:telegram:-100200300", 20, 60.0) in [(r.bucket, r.count, r.period) for r in group]
    assert [(r.bucket, r.count) for r in discord_rates("discord:dm:42")] == [("discord", 50), ("discord:dm:42", 5)]
    with pytest.raises(ValueError):
        Rate("x", 0, 1.0)
