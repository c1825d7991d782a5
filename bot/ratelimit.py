"""Platform send limits as data (a transport declares its Rates per chat) and the Limiter that keeps them.

A Rate is "at most `count` sends per `period` seconds" in one bucket; a send counts in every bucket its
chat's rates name (the platform's global bucket, the chat's own, a group's). The Limiter is a sliding
window per bucket over the sender's clock: take() either records the send now and returns 0, or says how
long to wait, recording nothing. Times are plain seconds (any epoch), so a fake clock drives it in tests.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

SWEEP_EVERY = 1000  # takes between sweeps of buckets nobody used for a whole period (memory stays flat)
EDGE = 1e-6  # seconds: a send exactly at the window's edge is allowed despite float rounding


@dataclass(frozen=True)
class Rate:
    bucket: str  # what the limit counts: "telegram" (the whole bot), a chat, "group:<chat>"
    count: int  # at most this many sends...
    period: float  # ...per this many seconds (sliding window)

    def __post_init__(self) -> None:
        if self.count < 1 or self.period <= 0:
            raise ValueError(f"Rate {self.bucket!r}: count must be >= 1 and period > 0")


class Limiter:
    def __init__(self) -> None:
        self._sent: dict[str, deque[float]] = {}  # bucket -> send times inside its window, oldest first
        self._periods: dict[str, float] = {}
        self._takes = 0

    def wait(self, rates: Sequence[Rate], now: float) -> float:
        """Seconds until a send under all these rates is allowed (0: now)."""
        return max((self._wait(rate, now) for rate in rates), default=0.0)

    def take(self, rates: Sequence[Rate], now: float) -> float:
        """Record a send now if every rate allows it and return 0; otherwise return the seconds to wait."""
        wait = self.wait(rates, now)
        if wait > 0:
            return wait
        for rate in rates:
            self._sent.setdefault(rate.bucket, deque()).append(now)
            self._periods[rate.bucket] = rate.period
        self._takes += 1
        if self._takes % SWEEP_EVERY == 0:
            self._sweep(now)
        return 0.0

    def _wait(self, rate: Rate, now: float) -> float:
        sent = self._sent.get(rate.bucket)
        if not sent:
            return 0.0
        while sent and sent[0] <= now - rate.period + EDGE:
            sent.popleft()
        if len(sent) < rate.count:
            return 0.0
        wait = sent[-rate.count] + rate.period - now  # when the count-th newest send leaves the window
        return wait if wait > EDGE else 0.0

    def _sweep(self, now: float) -> None:
        idle = [bucket for bucket, sent in self._sent.items() if not sent or sent[-1] <= now - self._periods[bucket]]
        for bucket in idle:
            del self._sent[bucket], self._periods[bucket]

    def __len__(self) -> int:
        """How many buckets are tracked (for tests of the sweep)."""
        return len(self._sent)


# ---- the platforms' published limits, for their transports to declare --------------------------------
# Telegram: about 30 messages/s per bot; in one chat about 1/s, with short bursts tolerated; a group
# at most 20/min (core.telegram.org/bots/faq "My bot is hitting limits"). Group and supergroup chat ids
# are negative.
TELEGRAM_OVERALL = 30
TELEGRAM_CHAT_BURST = 3  # 3 per 3 s: a step's two or three messages go at once, 1/s on average
TELEGRAM_GROUP_PER_MINUTE = 20
# Discord: 50 requests/s per bot; a channel's message route allows 5 per 5 s (the bucket the API
# reports in X-RateLimit-* headers for POST /channels/{id}/messages).
DISCORD_OVERALL = 50
DISCORD_CHANNEL_BURST = 5


def telegram_rates(chat: str) -> list[Rate]:
    """Rates for a Telegram chat key "telegram:<chat id>"."""
    rates = [Rate("telegram", TELEGRAM_OVERALL, 1.0), Rate(chat, TELEGRAM_CHAT_BURST, float(TELEGRAM_CHAT_BURST))]
    if chat.rsplit(":", 1)[-1].startswith("-"):
        rates.append(Rate(f"group:{chat}", TELEGRAM_GROUP_PER_MINUTE, 60.0))
    return rates


def discord_rates(chat: str) -> list[Rate]:
    """Rates for a Discord chat key ("discord:dm:<user id>", "discord:channel:<id>")."""
    return [Rate("discord", DISCORD_OVERALL, 1.0), Rate(chat, DISCORD_CHANNEL_BURST, float(DISCORD_CHANNEL_BURST))]
