"""The rows storage deals in, the Storage protocol, and the helpers the SQL of both backends shares.

One row per user holds the engine's state document plus a version for optimistic concurrency; the
timers, history, feedback and outgoing messages (the outbox) a step produced are written in the same
transaction as that state change, so a crash never loses or half-writes a step. Times are integer
epoch milliseconds (UTC): cheap to compare and identical on both databases.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from bot import ConfigError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LOAD_CHUNK = 500  # users per load_many query: a whole claimed batch (1,000 parameters: inside every limit)
MESSAGE_KINDS = ("message", "cue", "referral", "reminder", "notice")  # an outgoing body's "kind"
FEEDBACK_RATINGS = ("good", "tight", "pain", "skipped")  # how one stretch felt (issue 16)

JsonDict = dict[str, Any]
Params = tuple[Any, ...]
Row = tuple[Any, ...]
T = TypeVar("T")


class StorageConfigError(ConfigError):
    """The storage URL is wrong or the database cannot be opened. str() is one line for the CLI."""


@dataclass(frozen=True)
class UserKey:
    """Who a state belongs to."""

    platform: str  # "console" | "telegram" | "discord"
    user_id: str  # platform user id as text


@dataclass(frozen=True)
class TimerRow:
    key: UserKey
    name: str  # stable per user ("hold", "daily"): scheduling again replaces
    due: datetime  # aware UTC
    payload: JsonDict


@dataclass(frozen=True)
class Loaded:
    state_json: str | None  # None for a new user
    version: int  # 0 for a new user
    address: JsonDict  # the adapter's opaque delivery address; {} if none
    # the newest input number handled per input stream (Telegram: chat id -> update_id); see Runtime.handle
    inputs: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class HistoryRow:
    outcome: str
    routine: str | None
    level: str | None
    stretches_done: int
    seconds: int
    ended_at: datetime
    score_before: int | None = None  # the optional 0-10 rating of the back before the session
    score_after: int | None = None  # ... and after it

    def __post_init__(self) -> None:
        for name in ("score_before", "score_after"):
            score = getattr(self, name)
            if score is not None and (isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10):
                raise ValueError(f"HistoryRow.{name} must be a whole number from 0 to 10, not {score!r}")


@dataclass(frozen=True)
class FeedbackRow:
    """How one stretch felt, given right after it (issue 16)."""

    at: datetime  # aware UTC: when the stretch ended
    routine: str
    stretch: str
    rating: str  # one of FEEDBACK_RATINGS
    hold_seconds: int  # how long the hold was meant to last

    def __post_init__(self) -> None:
        if self.rating not in FEEDBACK_RATINGS:
            raise ValueError(f"FeedbackRow.rating must be one of {', '.join(FEEDBACK_RATINGS)}, not {self.rating!r}")


@dataclass(frozen=True)
class OutgoingMessage:
    """One message for the outbox. `chat` is the delivery queue key ("telegram:123456", "discord:dm:42"):
    messages of one chat are delivered one at a time, in the order they were written. `body` is opaque
    JSON for storage, rendered by the platform's transport at send time; storage only needs its "kind"
    (one of MESSAGE_KINDS) and "safety" (True: never dropped or coalesced)."""

    chat: str
    body: JsonDict

    def __post_init__(self) -> None:
        if not self.chat:
            raise ValueError("OutgoingMessage.chat must name the delivery queue, e.g. 'telegram:123456'")
        if self.body.get("kind") not in MESSAGE_KINDS:
            raise ValueError(
                f"OutgoingMessage.body['kind'] must be one of {', '.join(MESSAGE_KINDS)}, not {self.body.get('kind')!r}"
            )
        if not isinstance(self.body.get("safety"), bool):
            raise ValueError("OutgoingMessage.body['safety'] must be true or false")

    @property
    def kind(self) -> str:
        return str(self.body["kind"])

    @property
    def safety(self) -> bool:
        return bool(self.body["safety"])


@dataclass(frozen=True)
class OutboxRow:
    """A claimed (or pending) outbox row, as a sender sees it."""

    id: int
    key: UserKey  # whose step wrote it (forget_user deletes it with the user)
    chat: str
    body: JsonDict
    attempts: int  # failed sends so far
    created_at: datetime  # when the step that wrote it committed (the writer's wall clock)
    pending: int = 1  # rows of this chat not yet sent, this one included (for flood coalescing)

    @property
    def platform(self) -> str:
        return self.key.platform

    @property
    def safety(self) -> bool:
        return bool(self.body.get("safety"))


@dataclass(frozen=True)
class OutboxStats:
    depth: int  # rows not yet sent
    oldest_at: datetime | None  # when the oldest of them was written; None when empty
    dead_letters: int  # rows given up on, kept for people to look at

    def oldest_age(self, now: datetime) -> float:
        """Seconds the oldest unsent row has waited (0 when there is none)."""
        return 0.0 if self.oldest_at is None else max(0.0, (now - self.oldest_at).total_seconds())


@dataclass(frozen=True)
class Save:
    """One user's save: the arguments of Storage.save, so a batch of them can share a transaction."""

    key: UserKey
    expected_version: int
    state_json: str
    address: JsonDict | None
    profile: JsonDict
    schedule: list[TimerRow]
    cancel: list[str]
    history: list[HistoryRow]
    fired: TimerRow | None = None
    outbox: Sequence[OutgoingMessage] = field(default_factory=list)  # sent after the commit, in this order
    feedback: Sequence[FeedbackRow] = field(default_factory=list)
    score_after: int | None = None  # the back score given after the user's latest session: added to its row
    inputs: dict[str, int] | None = None  # Loaded.inputs with this step's input; None: unchanged


class OutboxStore(Protocol):
    """What a sender (bot/delivery.py) needs of storage. Every method but the reads takes the owner
    that claimed the row: a sender whose lease ran out and was taken over changes nothing."""

    # chats: only these chats (a console sends only to its own); None: every chat of the platforms
    async def claim_outbox(
        self, now: datetime, *, limit: int, lease: timedelta, owner: str, platforms: tuple[str, ...] | None = None,
        chats: tuple[str, ...] | None = None,
    ) -> list[OutboxRow]: ...
    async def mark_sent(self, row_id: int, owner: str) -> bool: ...
    async def retry_later(self, row_id: int, owner: str, not_before: datetime, error: str) -> bool: ...
    async def postpone(self, row_id: int, owner: str, not_before: datetime) -> bool: ...
    async def dead_letter(self, row_id: int, owner: str, reason: str, *, whole_chat: bool = False) -> int: ...
    async def coalesce(self, chat: str, now: datetime, *, notice: JsonDict | None, keep_newest: int = 1) -> int: ...
    async def release_backoff(self, row_ids: Sequence[int], now: datetime) -> int: ...
    async def next_outbox_due(self, platforms: tuple[str, ...] | None = None,
                              chats: tuple[str, ...] | None = None) -> datetime | None: ...
    async def outbox_stats(self, platforms: tuple[str, ...] | None = None) -> OutboxStats: ...
    async def pending(self, chat: str) -> list[OutboxRow]: ...
    async def dead_letters(self, chat: str | None = None) -> list[JsonDict]: ...
    async def media_id(self, platform: str, digest: str) -> str | None: ...
    async def remember_media(self, platform: str, digest: str, file_id: str) -> None: ...


class Storage(OutboxStore, Protocol):
    backend: str  # for people: "SQLite" / "PostgreSQL"
    location: str  # the file, or the URL with its password hidden
    found_version: int  # the schema version found on opening (before migrating)

    async def load(self, key: UserKey) -> Loaded: ...
    async def load_many(self, keys: list[UserKey]) -> dict[UserKey, Loaded]: ...
    async def save(
        self,
        key: UserKey,
        *,
        expected_version: int,
        state_json: str,
        address: JsonDict | None,
        profile: JsonDict,
        schedule: list[TimerRow],
        cancel: list[str],
        history: list[HistoryRow],
        fired: TimerRow | None = None,
        outbox: Sequence[OutgoingMessage] = (),
        feedback: Sequence[FeedbackRow] = (),
        score_after: int | None = None,
        inputs: dict[str, int] | None = None,
    ) -> bool: ...
    async def save_many(self, saves: list[Save]) -> list[bool]: ...
    async def enqueue(self, key: UserKey, outbox: Sequence[OutgoingMessage]) -> None: ...
    # platforms: only timers of these platforms (a Telegram-only process cannot deliver to Discord)
    # users: only these users' timers (a console fires its own user's only); None: every user's
    async def claim_due(
        self, now: datetime, *, limit: int, lease: timedelta, owner: str, platforms: tuple[str, ...] | None = None,
        users: tuple[str, ...] | None = None,
    ) -> list[TimerRow]: ...
    async def next_due(self, platforms: tuple[str, ...] | None = None,
                       users: tuple[str, ...] | None = None) -> datetime | None: ...
    async def timers(self, key: UserKey) -> list[TimerRow]: ...
    async def history(self, key: UserKey) -> list[HistoryRow]: ...
    async def feedback(self, key: UserKey, since: datetime | None = None) -> list[FeedbackRow]: ...
    async def export_user(self, key: UserKey) -> JsonDict: ...
    async def forget_user(self, key: UserKey, *, outbox: Sequence[OutgoingMessage] = ()) -> None: ...
    async def schema_version(self) -> int: ...
    async def close(self) -> None: ...


class Tx(Protocol):
    """An open transaction (or, for reads, a connection) as the shared SQL sees it: `?` placeholders."""

    async def execute(self, sql: str, params: Params = ()) -> int: ...  # how many rows changed
    async def execute_many(self, sql: str, rows: list[Params]) -> None: ...  # nothing when rows is empty
    async def fetch(self, sql: str, params: Params = ()) -> list[Row]: ...


Transaction = Callable[[Tx], Awaitable[T]]


def to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: storage needs aware UTC times")
    return (moment - EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def optional_ms(moment: datetime | None) -> int | None:
    return None if moment is None else to_ms(moment)


def optional_iso(ms: int | None) -> str | None:
    return None if ms is None else from_ms(ms).isoformat()


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def now_ms() -> int:
    """The wall clock, for bookkeeping columns (created, updated); never for due times or leases."""
    return to_ms(datetime.now(UTC))


def only(platforms: tuple[str, ...] | None, table: str = "", *, column: str = "platform",
         also: tuple[str, tuple[str, ...] | None] | None = None) -> tuple[str, Params]:
    """SQL to AND to a query so it sees only these platforms (None: all), and its parameters. `also`: a
    second (column, values) filter, e.g. ("user_id", ("alice",)) for a console that fires only its own
    user's timers."""
    where, params = "", ()
    prefix = f"{table}." if table else ""
    for name, values in ((column, platforms), *((also,) if also else ())):
        if values is not None:
            where += f" AND {prefix}{name} IN ({', '.join('?' * len(values)) or 'NULL'})"
            params = (*params, *values)
    return where, params
