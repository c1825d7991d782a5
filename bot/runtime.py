"""The runtime: performs what the pure engine decides.

Every input (a message, a button, a timer that came due) takes the same path: load the user's state, run
the engine, and write the new state together with its timers, history, ratings AND its outgoing messages
in ONE transaction (the outbox). A sender (bot/delivery.py) then delivers the messages, rendered when
they are sent (bot/outgoing.py), so a crash at any instant loses no message: what was committed is sent,
what was not is as if the input never came. State is read for every input and never cached, and a write
that lost a race reloads and runs the engine again, so several processes can serve the same users.
Timers that stand for a duration (a hold, a snooze) are sped up by `time_scale` (demos, tests): the
engine always works in real seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.clock import Clock, FakeClock, SystemClock
from bot.metrics import Metrics
from bot.storage import FeedbackRow, HistoryRow, Loaded, OutgoingMessage, Save, Storage, TimerRow, UserKey
from dialogs import events
from dialogs.events import (
    Action,
    Button,
    CancelTimer,
    Command,
    EndSession,
    Event,
    ExportData,
    ForgetUser,
    Notice,
    RecordScore,
    Say,
    ScheduleTimer,
    ShowProgress,
    TimerFired,
    message_data,
)
from dialogs.render import Renderer
from dialogs.state import UserState
from dialogs.turn import Step
from dialogs.views import MessageView

__all__ = ["Clock", "FakeClock", "Reply", "Runtime", "StateConflict", "SystemClock", "chat_of"]

log = logging.getLogger("stretchbot.runtime")

SAVE_ATTEMPTS = 5  # optimistic concurrency: reload and re-run the engine this often before giving up
CLAIM_BATCH = 500
CLAIM_LEASE = timedelta(seconds=60)  # a claimed timer whose process died is retried after this
POLL_INTERVAL = timedelta(seconds=60)  # wake at least this often: other processes may add timers
ERROR_BACKOFF = timedelta(seconds=5)

Body = dict[str, Any]


class Engine(Protocol):
    # the state passed is one the runtime has just loaded and never uses again: the engine may change it
    def advance(self, state: UserState, event: Event, now: datetime) -> Step: ...


class StateConflict(Exception):
    """The user's state kept changing underneath us: every save attempt lost the race."""


def chat_of(key: UserKey, address: dict[str, Any]) -> str:
    """The delivery queue a user's messages go to: the chat they wrote from, else the user themselves."""
    chat = address.get("chat_id")
    return f"{key.platform}:{chat if chat is not None else key.user_id}"


@dataclass(frozen=True)
class Reply:
    """What an input gives its adapter at once: toasts for a button press (`now`), and how many messages
    were queued for the sender (`queued`: an adapter that must acknowledge something says so when 0)."""

    now: list[MessageView]
    queued: int


@dataclass
class _Plan:
    """One engine step, split into what storage writes and what is delivered."""

    schedule: list[TimerRow] = field(default_factory=list)
    cancel: list[str] = field(default_factory=list)
    history: list[HistoryRow] = field(default_factory=list)
    feedback: list[FeedbackRow] = field(default_factory=list)
    outputs: list[Action] = field(default_factory=list)
    score_after: int | None = None
    forget: bool = False


def _plan(key: UserKey, step: Step, now: datetime, time_scale: float = 1.0) -> _Plan:
    plan = _Plan()
    timers: dict[str, ScheduleTimer | CancelTimer] = {}  # per name the last word wins, in action order
    for action in step.actions:
        if isinstance(action, (ScheduleTimer, CancelTimer)):
            timers.pop(action.name, None)
            timers[action.name] = action
        elif isinstance(action, EndSession):
            plan.history.append(HistoryRow(action.outcome, action.routine, action.level, action.stretches_done,
                                           action.seconds, now, score_before=action.score_before))
            plan.feedback += [FeedbackRow(now, action.routine or "", stretch, rating, 0)
                              for stretch, rating in action.ratings]
        elif isinstance(action, RecordScore):
            plan.score_after = action.after
        else:
            plan.forget = plan.forget or isinstance(action, ForgetUser)
            plan.outputs.append(action)
    for name, timer in timers.items():
        if isinstance(timer, ScheduleTimer):
            due = now + (timer.due - now) * time_scale if timer.scalable else timer.due
            plan.schedule.append(TimerRow(key, name, due, dict(timer.payload)))
        else:
            plan.cancel.append(name)
    return plan


def _profile_columns(state: UserState) -> dict[str, Any]:
    """The profile fields storage keeps as columns (queryable, exported, deleted with the user)."""
    profile = state.profile
    level = {"clear": "D", "pain": "C"}.get(profile.last_outcome or "", profile.last_outcome)
    return {"timezone": profile.timezone, "last_triage_at": profile.last_screened_at, "last_triage_level": level}


def outgoing(key: UserKey, address: dict[str, Any], outputs: list[Action],
             event: Event | None) -> list[OutgoingMessage]:
    """A step's user-visible actions as outbox messages: data, rendered only when sent (bot/outgoing.py).
    A notice answering a button press is shown at once by the adapter (a toast), so it is not queued."""
    chat = chat_of(key, address)
    reply = "command" if isinstance(event, Command) else "button" if isinstance(event, Button) else None
    messages: list[OutgoingMessage] = []
    for action in outputs:
        body: Body = {"user": [key.platform, key.user_id], "address": address, "reply": reply,
                      "first": not messages}
        if isinstance(action, Say):
            body.update(kind=action.kind, safety=action.kind == "referral", say=message_data(action))
        elif isinstance(action, Notice) and not isinstance(event, Button):
            notice = {"key": action.line.key, "params": dict(action.line.params)}
            body.update(kind="notice", safety=False, notice=notice)
        elif isinstance(action, ExportData):
            body.update(kind="message", safety=False, export=True)
        elif isinstance(action, ShowProgress):
            body.update(kind="reminder" if action.weekly else "message", safety=False,
                        progress={"weekly": action.weekly})
        else:
            continue
        messages.append(OutgoingMessage(chat, body))
    return messages


class Runtime:
    def __init__(self, engine: Engine, storage: Storage, *, clock: Clock, renderer: Renderer,
                 time_scale: float = 1.0, owner: str | None = None, platforms: tuple[str, ...] | None = None,
                 users: tuple[str, ...] | None = None, metrics: Metrics | None = None,
                 notify: Callable[[], None] | None = None, claim_lease: timedelta = CLAIM_LEASE) -> None:
        if not 0 < time_scale <= 1:
            raise ValueError("time_scale must be in (0, 1]")
        self.engine = engine
        self.renderer = renderer
        # < 1 speeds up every duration timer (holds, snoozes) for demos and tests; texts keep real seconds
        self.time_scale = time_scale
        # the platforms whose timers this process fires: a Telegram process cannot deliver to a Discord
        # user, so two bots on one database must not take each other's timers (None: all); `users`: only
        # these users' (a console fires its own user's timers, never another terminal's)
        self.platforms, self.users = platforms, users
        self.storage = storage
        self.clock = clock
        self.metrics = metrics or Metrics()
        self.notify = notify or (lambda: None)  # tells the sender new messages are in the outbox
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.wake = asyncio.Event()  # set when a new timer may be earlier than the scheduler's sleep
        self.claim_lease = claim_lease  # a timer claimed by a process that died fires this long after its claim

    def text(self, key: str, **values: str | int | None) -> str:
        """A ui string, for the few things an adapter says itself (a stale press, an apology)."""
        return self.renderer.text(key, values)

    async def handle(self, key: UserKey, event: Event, address: dict[str, Any] | None = None,
                     input_id: tuple[str, int] | None = None) -> Reply:
        """Run one input through the engine and storage. Its messages are queued for the sender.

        input_id: (stream, number) from a platform that numbers a stream's inputs in increasing order, handles
        them in that order, and may deliver one again after a crash (Telegram: the chat and the update_id).
        The number is saved with the step, so an input whose number is not above the one saved for its
        stream was handled already: it is skipped (nothing said, nothing queued)."""
        self.metrics.updates.labels(key.platform).inc()
        outputs, queued = await self._step(key, event, address, input_id=input_id)
        now = [self.renderer.notice(a) for a in outputs if isinstance(a, Notice) and isinstance(event, Button)]
        return Reply(now, queued)

    async def _step(self, key: UserKey, event: Event, address: dict[str, Any] | None,
                    fired: TimerRow | None = None,
                    input_id: tuple[str, int] | None = None) -> tuple[list[Action], int]:
        """The one path every input takes. Returns (the visible actions, how many messages were queued)."""
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            loaded = await self.storage.load(key)
            inputs = None
            if input_id is not None:
                stream, number = input_id
                if loaded.inputs.get(stream, number - 1) >= number:
                    log.info("input %d of %s:%s was handled before; skipped", number, key.platform, key.user_id)
                    return [], 0
                inputs = {**loaded.inputs, stream: number}
            if loaded.version == 0 and isinstance(event, events.Undeliverable):
                # nobody is stored (a stranger, or someone whose /forget confirmation could not be sent):
                # there is nothing to pause, and recording "unreachable" would store them again
                return [], 0
            now = self.clock.now()
            step = self.engine.advance(self._state(key, loaded), event, now)
            plan = _plan(key, step, now, self.time_scale)
            messages = outgoing(key, address if address is not None else loaded.address, plan.outputs, event)
            if isinstance(event, events.Undeliverable):
                # the chat just refused a message: anything said now would bounce, and be reported again
                messages = []
            if plan.forget:
                # every row about the user goes, in one transaction with the confirmation that says so
                await self.storage.forget_user(key, outbox=messages)
                log.info("forgot %s:%s", key.platform, key.user_id)
                self.notify()
                return plan.outputs, len(messages)
            if loaded.version == 0 and step.state == UserState() and not (plan.schedule or plan.history):
                # someone unknown asked something (/mydata after /forget): answer, but store no profile
                await self.storage.enqueue(key, messages)
                saved = True
            else:
                saved = await self.storage.save(
                    key, expected_version=loaded.version, state_json=step.state.to_json(), address=address,
                    profile=_profile_columns(step.state), schedule=plan.schedule, cancel=plan.cancel,
                    history=plan.history, fired=fired, outbox=messages, feedback=plan.feedback,
                    score_after=plan.score_after, inputs=inputs)
            if saved:
                if plan.schedule:
                    self.wake.set()
                if messages:
                    self.notify()
                return plan.outputs, len(messages)
            log.info("state of %s:%s changed meanwhile (attempt %d); reloading", key.platform, key.user_id, attempt)
        raise StateConflict(f"{key.platform}:{key.user_id}: gave up after {SAVE_ATTEMPTS} conflicting saves")

    def _state(self, key: UserKey, loaded: Loaded) -> UserState:
        if loaded.state_json is None:
            return UserState()
        try:
            return UserState.from_json(loaded.state_json)
        except Exception as error:  # an old or unknown shape: start safely rather than crash-loop
            log.warning("unreadable state for %s:%s (%s); starting fresh", key.platform, key.user_id,
                        type(error).__name__)
            return UserState()

    # ---- timers ---------------------------------------------------------------------------------
    async def fire_due(self) -> int:
        """Fire every timer due now, oldest first. Returns how many went through the engine.

        A claimed batch costs one query to load every user in it, the engine steps in memory, and ONE
        transaction to save them all, their messages included; only a user whose state changed meanwhile
        (or who has two timers in the batch) takes the one-by-one path.
        """
        fired = 0
        while True:
            rows = await self.storage.claim_due(self.clock.now(), limit=CLAIM_BATCH, lease=self.claim_lease,
                                                owner=self.owner, platforms=self.platforms, users=self.users)
            if not rows:
                return fired
            fired += await self._fire_batch(rows)
            if len(rows) < CLAIM_BATCH:
                # a timer scheduled "now" by one of these steps waits for the next round, so an engine
                # that keeps rescheduling at `now` cannot spin this loop forever
                return fired

    async def _fire_batch(self, rows: list[TimerRow]) -> int:
        by_user: dict[UserKey, list[TimerRow]] = {}
        for row in rows:
            by_user.setdefault(row.key, []).append(row)
        singles = [user_rows[0] for user_rows in by_user.values() if len(user_rows) == 1]
        one_by_one = [row for user_rows in by_user.values() if len(user_rows) > 1 for row in user_rows]
        loaded = await self.storage.load_many([row.key for row in singles])
        now = self.clock.now()
        saves: list[Save] = []
        for row in singles:
            self.metrics.timer_lateness.observe(max(0.0, (now - row.due).total_seconds()))
            try:
                step = self.engine.advance(self._state(row.key, loaded[row.key]),
                                           TimerFired(row.name, row.due, row.payload), now)
            except Exception:  # one bad timer must never stop the others; its lease expires, it retries
                log.exception("timer %r for %s:%s failed", row.name, row.key.platform, row.key.user_id)
                continue
            plan = _plan(row.key, step, now, self.time_scale)
            if plan.forget:
                one_by_one.append(row)
                continue
            messages = outgoing(row.key, loaded[row.key].address, plan.outputs, None)
            saves.append(Save(row.key, loaded[row.key].version, step.state.to_json(), None,
                              _profile_columns(step.state), plan.schedule, plan.cancel, plan.history, row,
                              messages, plan.feedback, plan.score_after))
        try:
            results = await self.storage.save_many(saves)
        except Exception:  # the whole batch stays claimed; its lease expires and it is retried
            log.exception("saving a batch of %d fired timers failed", len(saves))
            return 0
        if any(save.schedule for save in saves):
            self.wake.set()
        if any(save.outbox for save, saved in zip(saves, results, strict=True) if saved):
            self.notify()
        one_by_one += [save.fired for save, saved in zip(saves, results, strict=True) if not saved and save.fired]
        done = sum(results)
        for row in sorted(one_by_one, key=lambda r: r.due):
            done += await self._fire(row)
        return done

    async def _fire(self, row: TimerRow) -> int:
        """One timer through the careful path: reload, step, version-checked save, retries."""
        try:
            await self._step(row.key, TimerFired(row.name, row.due, row.payload), None, fired=row)
        except Exception:  # one bad timer must never stop the others; its lease expires, it retries
            log.exception("timer %r for %s:%s failed", row.name, row.key.platform, row.key.user_id)
            return 0
        return 1

    async def unreachable(self, key: UserKey, reason: str) -> None:
        """A message could not be delivered (blocked bot, closed DMs): the engine pauses what runs and
        stops reminding; whatever it says then is queued like anything else (and may not arrive)."""
        log.warning("cannot reach %s:%s (%s)", key.platform, key.user_id, reason)
        try:
            await self._step(key, events.Undeliverable(reason), None)
        except Exception:
            log.exception("recording that %s:%s is unreachable failed", key.platform, key.user_id)

    async def on_undeliverable(self, chat: str, body: Body, reason: str) -> None:
        """The sender's callback for a message that can never be sent (bot/delivery.py)."""
        user = body.get("user")
        if isinstance(user, list) and len(user) == 2:
            await self.unreachable(UserKey(str(user[0]), str(user[1])), reason)

    async def run_scheduler(self) -> None:
        """Forever: sleep until the next timer is due (or a new one is scheduled), then fire."""
        while True:
            try:
                self.metrics.beat("scheduler")
                next_due = await self.storage.next_due(self.platforms, self.users)
                latest = self.clock.now() + POLL_INTERVAL
                await self.clock.sleep_until(min(next_due, latest) if next_due else latest, self.wake)
                self.wake.clear()
                await self.fire_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler round failed; retrying shortly")
                await self.clock.sleep_until(self.clock.now() + ERROR_BACKOFF, asyncio.Event())
