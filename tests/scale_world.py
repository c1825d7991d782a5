"""Two bot processes on one PostgreSQL database, for the scale-out tests.

Each process is a process_world.Process: a Runtime with its own PgStorage (its own connection pool) and
owner name plus its own Sender, with the real engine and content; both share one FakeClock and one list
of what reached the users. Users are returning users (their full safety screen, run once on the pure
engine, is a day old) who get into a hold through real steps in the runtime (/stretch, "nothing new",
the routine, "ready"), or are stored exactly as the engine leaves such a user mid-hold. The hold cues
their timers produce are what the tests count.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Iterable
from datetime import timedelta
from typing import Any, TypeVar

from conftest import T0, Chat
from process_world import Delivery, Process

from bot.runtime import Runtime
from bot.storage import TimerRow, UserKey
from bot.storage.postgres import PgStorage
from dialogs.engine import Engine
from dialogs.events import Button, Command, Say
from dialogs.flows.timers import HOLD_TIMER
from dialogs.state import UserState

ROUTINE = "lower5"
T = TypeVar("T")


def user(number: int) -> UserKey:
    return UserKey("telegram", str(number))


def chat(key: UserKey) -> str:
    return f"telegram:{key.user_id}"


def key_of(chat_name: str) -> UserKey:
    """The user a chat belongs to (in these tests everyone writes from their own private chat)."""
    platform, user_id = chat_name.split(":", 1)
    return UserKey(platform, user_id)


def returning_user(engine: Engine) -> UserState:
    """The state the engine leaves after a full safety screen with no flag and a session stopped yesterday."""
    chat = Chat(engine, now=T0 - timedelta(days=1))
    chat.say("/stretch")
    chat.screen_safely()
    chat.say("/stop")
    assert chat.state.session is None and chat.state.profile.last_outcome == "clear"
    return chat.state


def pure_hold(engine: Engine) -> Chat:
    """The same steps as start_hold on the pure engine: what storage must hold for a user mid-hold."""
    chat = Chat(engine, state=returning_user(engine))
    chat.say("/stretch")
    chat.press("no")  # nothing new since the last safety screen
    chat.press(ROUTINE)
    chat.press("ready")
    return chat


async def gather_limited(coroutines: Iterable[Awaitable[T]], limit: int = 40) -> list[T]:
    gate = asyncio.Semaphore(limit)

    async def one(coroutine: Awaitable[T]) -> T:
        async with gate:
            return await coroutine

    return await asyncio.gather(*(one(c) for c in coroutines))


async def seed(storage: PgStorage, keys: Iterable[UserKey], state: UserState, timers: Iterable[Any] = ()) -> None:
    """Store users as the runtime would: one save each, with the timers the engine scheduled."""
    timers = list(timers)
    await gather_limited(
        storage.save(key, expected_version=0, state_json=state.to_json(), address={"chat_id": key.user_id},
                     profile={}, schedule=[TimerRow(key, name, due, payload) for name, (due, payload) in timers],
                     cancel=[], history=[])
        for key in keys
    )


async def start_hold(runtime: Runtime, key: UserKey) -> None:
    """/stretch, answer the quick check (or any screening screen) safely, pick the routine, "ready"."""
    await runtime.handle(key, Command("stretch"), {"chat_id": key.user_id})
    while True:
        state = UserState.from_json((await runtime.storage.load(key)).state_json or "")
        assert state.screen is not None
        shown = runtime.renderer.render(Say(screen=state.screen, number=state.screen_no))
        ids = [button.choice for button in shown.buttons]
        choice = next(c for c in ("ready", ROUTINE, "low", "no") if c in ids)
        reply = await runtime.handle(key, Button(choice, state.screen_no))
        if choice == "ready":
            assert reply.queued and HOLD_TIMER in {t.name for t in await runtime.storage.timers(key)}
            return


async def stored_states(storage: PgStorage) -> dict[UserKey, UserState]:
    rows = await storage.pool.fetch("SELECT platform, user_id, state FROM users")
    return {UserKey(r["platform"], r["user_id"]): UserState.from_json(r["state"]) for r in rows}


def cues(delivered: list[Delivery], cue_text: str) -> Counter[UserKey]:
    """How often each user got a message ending with this cue (a late one starts with an apology)."""
    return Counter(UserKey("telegram", d.user) for d in delivered if d.text.endswith(cue_text))


def cue_order(delivered: list[Delivery], *cue_texts: str) -> dict[str, list[str]]:
    """Per chat, the cues it got, in the order they arrived (named by their index in cue_texts)."""
    order: dict[str, list[str]] = {}
    for d in delivered:
        for index, text in enumerate(cue_texts):
            if d.text.endswith(text):
                order.setdefault(d.chat, []).append(str(index))
    return order


async def open_processes(pg_url: str, core: Any, clock: Any, deliveries: list[Delivery]) -> tuple[Process, Process]:
    first, second = await PgStorage.open(pg_url), await PgStorage.open(pg_url)
    return (Process(core, first, clock, name="a", deliveries=deliveries),
            Process(core, second, clock, name="b", deliveries=deliveries))


async def hang() -> None:
    """A process that stopped here (a stalled connection, a frozen VM) until it is killed."""
    await asyncio.Event().wait()
