"""A stretch picture is uploaded to Telegram once per bot, also when many chats need it at the same moment
(issue 15): the real Telegram transport over the Bot API fake, many sends of one new picture at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
import telegram_harness
from conftest import T0
from telegram_fake import FakeBotApi
from telegram_wire import Upload
from telegram_world import World, config_for

from bot.runtime import FakeClock, outgoing
from bot.storage import UserKey
from dialogs.events import Command, Say, Text
from dialogs.state import UserState

bot_api = telegram_harness.bot_api
CHATS = range(7_001, 7_021)


@pytest.fixture(autouse=True)
def timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def world(bot_api: FakeBotApi, content, tmp_path: Path):
    world = World(bot_api, content, tmp_path / "bot.db", FakeClock(T0), config_for(bot_api))
    await world.start()
    yield world
    await world.stop()


def first_stretch(world: World) -> Say:
    """What the engine says on the first stretch of the 5-minute routine (its picture is an animation)."""
    engine, state, now = world.core.engine, UserState(), datetime.now(UTC)
    title = world.content.routines["lower5"].title
    for line in ["/start", "/stretch", "no", "no", "2", "no", title]:
        step = engine.handle(state, Command(line[1:]) if line.startswith("/") else Text(line), now)
        state = step.state
    assert state.screen is not None and state.screen.id == "stretch.position"
    return next(action for action in step.actions if isinstance(action, Say))


async def test_many_chats_reaching_a_new_picture_at_once_upload_it_once(world: World) -> None:
    say = first_stretch(world)
    bodies = {chat: outgoing(UserKey("telegram", str(chat)), {"chat_id": chat}, [say], None)[0].body for chat in CHATS}
    picture = world.renderer.render(say).attachment
    assert picture is not None and picture.kind == "animation"
    await asyncio.to_thread(world.parts.outgoing.pictures.picture, picture.name)  # drawn: only sending is timed

    await asyncio.gather(*(world.adapter.send(f"telegram:{chat}", body) for chat, body in bodies.items()))

    sends = world.api.calls_to("sendAnimation")
    assert sorted(call.params["chat_id"] for call in sends if call.status == 200) == list(CHATS)
    uploads = [call for call in sends if isinstance(call.params["animation"], Upload)]
    assert len(uploads) == 1 and len(world.api.media) == 1
    assert {call.params["animation"] for call in sends if call not in uploads} == set(world.api.media)


async def test_a_picture_is_uploaded_again_when_telegram_refuses_its_stored_file_id(world: World) -> None:
    say = first_stretch(world)
    body = outgoing(UserKey("telegram", "7001"), {"chat_id": 7001}, [say], None)[0].body
    await world.adapter.send("telegram:7001", body)
    world.api.media.clear()  # Telegram no longer knows the file (another bot's id, or it expired)

    await world.adapter.send("telegram:7001", body)

    statuses = [
        (call.status, isinstance(call.params["animation"], Upload)) for call in world.api.calls_to("sendAnimation")
    ]
    assert statuses == [(200, True), (400, False), (200, True)]
