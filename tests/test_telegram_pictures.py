"""Pictures on Telegram (issue 15) and /progress with its chart (issue 16), over the Bot API fake: the real
PTB Application, runtime, outbox, sender and PictureStore (drawn with Pillow into tmp_path)."""

from __future__ import annotations

from pathlib import Path

import pytest
import telegram_harness
from conftest import T0
from expected import exercise, referral, text, view
from telegram_fake import Call, FakeBotApi
from telegram_inspect import SENDS
from telegram_wire import Upload
from telegram_world import ALICE, BOB, World, config_for

from bot.runtime import FakeClock

bot_api = telegram_harness.bot_api
MEDIA = ("sendPhoto", "sendAnimation")
PNG, GIF = b"\x89PNG\r\n\x1a\n", b"GIF8"


@pytest.fixture(autouse=True)
def timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def world(bot_api: FakeBotApi, content, tmp_path: Path):
    world = World(bot_api, content, tmp_path / "bot.db", FakeClock(T0), config_for(bot_api))
    await world.start()
    yield world
    await world.stop()


def media_calls(world: World, mark: int = 0, chat: int | None = None) -> list[Call]:
    return [c for c in world.api.calls[mark:] if c.method in MEDIA and c.status == 200
            and chat in (None, c.params.get("chat_id"))]


def media_of(call: Call) -> object:
    return call.params["photo" if call.method == "sendPhoto" else "animation"]


async def first_position(world: World, user: int) -> Call:
    mark = world.api.mark()
    await world.start_routine(user)
    [call] = media_calls(world, mark, user)
    return call


async def test_the_position_step_is_a_picture_with_its_words_and_buttons(world: World) -> None:
    r = world.renderer
    call = await first_position(world, ALICE)
    upload = media_of(call)
    assert isinstance(upload, Upload) and upload.content[:4] in (PNG[:4], GIF)  # a multipart upload, a real image
    message = call.result
    assert message["caption"] == text(r, on=exercise(r, "stretch.position", index=0, hold=0))
    expected = view(r, on=exercise(r, "stretch.position", index=0, hold=0))
    assert [data.rsplit(":", 1)[-1] for data in world.api.buttons(message)] == [b.choice for b in expected.buttons]


async def test_a_picture_is_uploaded_once_then_sent_by_its_file_id_also_after_a_restart(world: World) -> None:
    first = await first_position(world, ALICE)
    file_id = (first.result.get("photo") or [first.result.get("animation")])[-1]["file_id"]
    again = await first_position(world, BOB)
    assert media_of(again) == file_id  # no second upload
    await world.restart()  # a new process: the file_id comes from the database, not from memory
    await world.send(ALICE, "/stop", replies=1)
    after_restart = await first_position(world, ALICE)
    assert media_of(after_restart) == file_id
    assert sum(isinstance(media_of(c), Upload) for c in media_calls(world)) == 1


async def test_an_unknown_file_id_is_uploaded_again(world: World) -> None:
    first = await first_position(world, ALICE)
    world.api.media.clear()  # Telegram no longer knows the file (another bot token, or it expired)
    await world.send(ALICE, "/stop")
    again = await first_position(world, ALICE)
    assert isinstance(media_of(again), Upload) and again.result["caption"] == first.result["caption"]


async def test_pain_skip_and_stop_work_from_a_picture(world: World) -> None:
    r = world.renderer
    call = await first_position(world, ALICE)
    message = call.result
    [following] = await world.press(ALICE, "skip", message=message)  # skip the first stretch
    assert following == text(r, "skipped", on=exercise(r, "stretch.position", index=1, hold=0))
    assert world.api.keyboard(message) is None  # the answered picture keeps no buttons
    assert world.api.messages[(ALICE, message["message_id"])]["caption"] == message["caption"]  # nor loses words

    picture = world.api.last_sent(ALICE)
    assert "photo" in picture or "animation" in picture  # the second stretch's picture
    said = await world.press(ALICE, "pain", message=picture)
    assert said[0] == referral(r, "pain")  # the session ends at once, from a picture as from words
    assert (await world.state(ALICE)).session is None

    await first_position(world, BOB)
    said = await world.press(BOB, "stop", message=world.api.last_sent(BOB))
    assert said[0].startswith("Stopped.")  # content/ui.yaml "stopped"
    assert (await world.state(BOB)).session is None


async def test_pictures_off_sends_words_only_and_on_brings_them_back(world: World) -> None:
    said = await world.send(ALICE, "/pictures off")
    assert said[0].startswith(world.content.t("pictures_off"))
    mark = world.api.mark()
    await world.start_routine(ALICE)
    assert media_calls(world, mark) == []
    await world.send(ALICE, "/stop")
    await world.send(ALICE, "/pictures on")
    assert await first_position(world, ALICE)


async def test_progress_is_words_and_a_chart(world: World) -> None:
    await world.send(ALICE, "/start")
    mark = world.api.mark()
    said = await world.send(ALICE, "/progress")
    calls = [c for c in world.api.calls[mark:] if c.method in SENDS and c.status == 200]
    [chart] = [c for c in calls if c.method == "sendPhoto"]
    upload = media_of(chart)
    assert isinstance(upload, Upload) and upload.content.startswith(PNG)
    summary = [s for s in said if world.content.progress.texts.title in s]
    assert summary, said  # the figures in words (also the chart's alt text), then the picture

