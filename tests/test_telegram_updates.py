"""Telegram updates are handled once across a crash (issue 14). Telegram forgets an update once a
getUpdates call confirms it (its offset), so polling confirms an update only after it was handled: one
fetched by a process that dies before handling it is fetched again by the next one. One that was handled
but not yet confirmed comes again too, and is recognised by its number (Runtime.handle's input_id): not
answered twice, and no apology for the button press that cannot be answered twice.
With real SIGKILLs mid-routine: tests/test_delivery_kill.py.
"""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path

import pytest
import telegram_harness
from conftest import T0
from telegram_fake import FakeBotApi
from telegram_world import ALICE, World, config_for, sent

from bot.runtime import FakeClock

bot_api = telegram_harness.bot_api
WAIT_SECONDS = 10  # real seconds for the bot to fetch, handle or confirm at most (it takes milliseconds)


@pytest.fixture
async def world(bot_api: FakeBotApi, content, tmp_path: Path):
    world = World(bot_api, content, tmp_path / "bot.db", FakeClock(T0), config_for(bot_api))
    await world.start()
    yield world
    await world.stop()


def fetched(api: FakeBotApi, update: dict) -> bool:
    """Has a getUpdates answer handed this update to the bot?"""
    return any(update["update_id"] == given["update_id"] for call in api.calls_to("getUpdates")
               for given in call.result or [])


async def confirmed(api: FakeBotApi, update: dict) -> None:
    """Until a getUpdates offset has confirmed the update (Telegram would never give it again)."""
    while any(u["update_id"] == update["update_id"] for u in api.updates):
        await asyncio.sleep(0.005)


async def test_polling_confirms_an_update_only_after_it_was_handled(world: World, bot_api: FakeBotApi, monkeypatch):
    handling, release, next_poll_waits = asyncio.Event(), asyncio.Event(), asyncio.Event()
    real_handle = world.runtime.handle

    async def slow_handle(*args, **kwargs):  # the step takes its time (a busy database)
        handling.set()
        await release.wait()
        return await real_handle(*args, **kwargs)

    monkeypatch.setattr(world.runtime, "handle", slow_handle)
    polling = world.adapter.requests[1]
    real_handled = polling.handled

    pushed: list[dict] = []

    async def handled() -> None:
        if pushed and fetched(bot_api, pushed[0]):  # the poll after the one that fetched it would confirm it
            next_poll_waits.set()
        await real_handled()

    polling.handled = handled
    update = bot_api.send_command(ALICE, None, "/start")
    pushed.append(update)
    await asyncio.wait_for(asyncio.gather(handling.wait(), next_poll_waits.wait()), WAIT_SECONDS)
    # fetched and being handled, the next poll held back: a process that died now leaves it to the next
    assert update in bot_api.updates and bot_api.shown_texts() == []
    release.set()
    await asyncio.wait_for(confirmed(bot_api, update), WAIT_SECONDS)
    await bot_api.wait_for(sent, timeout=WAIT_SECONDS)
    await world.settle()
    assert len(bot_api.shown_texts()) == 1


async def test_updates_handled_but_not_confirmed_come_again_and_are_not_handled_twice(world: World, bot_api):
    await world.send(ALICE, "/start")
    home = world.message_with(ALICE, "start")
    press = bot_api.press(ALICE, None, home, next(d for d in bot_api.buttons(home) if d.endswith(":start")))
    await asyncio.wait_for(confirmed(bot_api, press), WAIT_SECONDS)
    await bot_api.wait_for(sent, count=2, timeout=WAIT_SECONDS)
    await world.settle()
    seen, screen = bot_api.shown_texts(), await world.screen_id(ALICE)
    command = next(u for call in bot_api.calls_to("getUpdates") for u in call.result or [] if "message" in u)

    # as if the process died after handling both and before confirming them: Telegram hands them to the next
    await world.restart()
    again = [copy.deepcopy(command), copy.deepcopy(press)]
    bot_api.updates.extend(again)
    for update in again:
        await asyncio.wait_for(confirmed(bot_api, update), WAIT_SECONDS)
    await world.settle()

    assert bot_api.shown_texts() == seen  # no second welcome, no second screening intro, no apology
    assert await world.screen_id(ALICE) == screen
    assert bot_api.toasts() == [None]  # the press was answered once; answering it again is not an error
