"""States stored by the previous release (tests/fixtures/v1_*.json, saved by release 0.1.0) load and carry on.

A user mid-hold during an upgrade gets their cue from the timer the old release stored, the buttons of the
message they are looking at keep working, and the routine goes on.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from conftest import Chat
from process_world import Process, core_of

from bot.runtime import FakeClock
from bot.storage import TimerRow, UserKey, open_storage
from dialogs.content import Content
from dialogs.engine import Engine
from dialogs.events import Button, TimerFired
from dialogs.migrate import SCHEMA_VERSION, migrate
from dialogs.state import UserState

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_a_state_mid_hold_from_the_previous_release_continues(engine: Engine, content: Content) -> None:
    old = fixture("v1_mid_hold")
    assert old["state"]["schema"] == 1 and old["state"]["session"]["phase"] == "holding"
    state = UserState.from_json(json.dumps(old["state"]))
    assert state.schema_ == SCHEMA_VERSION
    chat = Chat(engine, now=datetime.fromisoformat(old["now"]), state=state)
    assert chat.screen_id() == "stretch.hold"
    timer = old["timers"]["hold"]
    due = datetime.fromisoformat(timer["due"])
    chat.now = due
    step = chat.send(TimerFired("hold", due, timer["payload"]))  # the timer the old release stored
    assert content.t("halfway_hold") in chat.said(step)
    steps = chat.finish_hold()
    assert content.t("release_hold") in chat.said(steps)
    assert chat.screen_id() == "stretch.position" and content.t("side_right") in chat.prompt
    chat.press("ready")
    chat.finish_hold()
    assert chat.screen_id() == "stretch.checkin"


def test_the_old_message_s_buttons_keep_working_after_the_upgrade(engine: Engine, content: Content) -> None:
    old = fixture("v1_mid_hold")
    chat = Chat(engine, now=datetime.fromisoformat(old["now"]), state=UserState.from_json(json.dumps(old["state"])))
    old_screen = old["state"]["screen"]
    step = chat.send(Button("skip", old_screen))  # pressed on the hold message the old release sent
    assert content.t("skipped") in chat.said(step) and chat.state.screen.number("number") == 2


@pytest.mark.parametrize(("name", "screen"), [
    ("v1_in_triage", "screening.group"),
    ("v1_reminder_due", "remind.due"),
    ("v1_forget_over_position", "forget.confirm"),
])
def test_every_stored_shape_of_the_previous_release_loads_and_is_answered(engine: Engine, name: str,
                                                                         screen: str) -> None:
    old = fixture(name)
    state = UserState.from_json(json.dumps(old["state"]))
    chat = Chat(engine, now=datetime.fromisoformat(old["now"]), state=state)
    assert chat.screen_id() == screen
    step = chat.press(chat.choice_ids()[-1])
    assert step.actions


def test_cancelling_forget_after_the_upgrade_brings_back_the_covered_screen(engine: Engine) -> None:
    old = fixture("v1_forget_over_position")
    chat = Chat(engine, now=datetime.fromisoformat(old["now"]), state=UserState.from_json(json.dumps(old["state"])))
    chat.press("forget_no")
    assert chat.screen_id() == "stretch.position"
    chat.press("ready")
    assert chat.screen_id() == "stretch.hold"


def test_a_state_from_the_future_is_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="newer"):
        migrate(json.dumps({"schema": SCHEMA_VERSION + 1}))


async def test_the_runtime_continues_a_stored_hold_after_an_upgrade(tmp_path: Path, engine: Engine,
                                                                    content: Content) -> None:
    """Through real storage: the old release's state row and timer row, then the new runtime fires it and
    its sender delivers the cues."""
    old = fixture("v1_mid_hold")
    key = UserKey("telegram", "77")
    storage = await open_storage(f"sqlite:///{tmp_path / 'upgrade.db'}")
    try:
        timer = old["timers"]["hold"]
        due = datetime.fromisoformat(timer["due"])
        assert await storage.save(key, expected_version=0, state_json=json.dumps(old["state"]),
                                  address={"chat_id": 77}, profile={}, cancel=[], history=[],
                                  schedule=[TimerRow(key, "hold", due, timer["payload"])])
        clock = FakeClock(due)
        process = Process(core_of(engine), storage, clock)
        async with process.sending():
            assert await process.fire() == 1
            assert [(d.chat, d.body["kind"], d.text) for d in process.delivered] == [
                ("telegram:77", "cue", content.t("halfway_hold"))]
            clock.advance(30)
            assert await process.fire() == 1
            assert content.t("release_hold") in process.delivered[1].text
            assert await storage.pending("telegram:77") == []
        stored = UserState.from_json((await storage.load(key)).state_json or "")
        assert stored.schema_ == SCHEMA_VERSION and stored.screen is not None
        assert stored.screen.id == "stretch.position"
    finally:
        await storage.close()
