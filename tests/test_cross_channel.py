"""Issue 11's proof: ONE conversation script (tests/scripts/*.yaml, data) runs unchanged through the console,
Telegram and Discord, and every channel shows the same screens (by their rendered text), the same choices
in the same order, and marks each referral as one (Telegram and Discord: the marker and bold; the
console: the marker). Expected messages are rendered from content by the real renderer.

Each channel is its real adapter end to end (tests/channels.py): the console's ConsoleChat over a Runtime,
a SQLite file and a FakeClock; the PTB Application against the fake Bot API; discord.py under simcord.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
import telegram_harness
import test_discord
import yaml
from channels import Channel, ConsoleChannel, DiscordChannel, Seen, TelegramChannel
from conftest import T0
from expected import shown
from pydantic import BaseModel, ConfigDict, Field, model_validator
from telegram_world import World, config_for, core_for

from bot.app import make_parts
from bot.runtime import FakeClock
from bot.storage import open_storage
from dialogs.content import Content
from dialogs.events import Line, Say
from dialogs.render import Renderer
from dialogs.state import Screen
from dialogs.views import MessageView

SCRIPTS = sorted((Path(__file__).parent / "scripts").glob("*.yaml"))

bot_api = telegram_harness.bot_api  # the fixtures of the Telegram and Discord suites, shared
db_url, parts, world = test_discord.db_url, test_discord.parts, test_discord.world
simcord_bot, expected_errors = test_discord.simcord_bot, test_discord.expected_errors
fail_on_swallowed_errors = test_discord.fail_on_swallowed_errors


# ---- the script ----------------------------------------------------------------------------------------
Params = dict[str, str | int | bool]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Message(_Strict):
    lines: list[str | dict[str, Params]] = Field(default_factory=list)
    screen: str | dict[str, Params] | None = None
    choices: list[str] = Field(default_factory=list)  # strict: an unquoted yes/no (a YAML bool) is refused
    kind: Literal["message", "cue", "referral", "reminder"] = "message"


class Label(_Strict):
    label: str  # a ui key: the words of a button, typed


class Step(_Strict):
    command: str | None = None
    press: str | None = None
    type: str | Label | None = None
    wait: Literal["hold"] | int | float | None = None
    bot: list[Message]

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        done = [name for name in ("command", "press", "type", "wait") if getattr(self, name) is not None]
        if len(done) != 1:
            raise ValueError(f"a step does exactly one thing (command, press, type or wait), not {done}")
        return self

    def describe(self) -> str:
        return next(
            f"{name} {getattr(self, name)!r}"
            for name in ("command", "press", "type", "wait")
            if getattr(self, name) is not None
        )


class Script(_Strict):
    name: str
    steps: list[Step] = Field(min_length=1)


def load(path: Path) -> Script:
    return Script.model_validate(yaml.safe_load(path.read_text()))


def _named(item: str | dict[str, Params]) -> tuple[str, Params]:
    if isinstance(item, str):
        return item, {}
    [(name, params)] = item.items()
    return name, params


def expected_view(message: Message, renderer: Renderer) -> MessageView:
    """The message the script describes, rendered from content as the runtime would send it."""
    values = {"=answers": renderer.content.triage.answers_needed()}

    def resolved(params: Params) -> Params:
        return {name: values.get(value, value) if isinstance(value, str) else value for name, value in params.items()}

    lines = tuple(Line(key, resolved(params)) for key, params in map(_named, message.lines))
    screen = None
    if message.screen is not None:
        screen_id, params = _named(message.screen)
        screen = Screen(id=screen_id, params=resolved(params))
    return renderer.render(Say(lines, screen, 1 if screen is not None else None, message.kind))


# ---- running it ----------------------------------------------------------------------------------------
async def run(script: Script, channel: Channel, content: Content, *, has_bold: bool) -> list[list[Seen]]:
    """Play the script on a channel, asserting each step; returns what the user saw, step by step."""
    renderer, marker = Renderer(content), content.wording.markers.referral
    labels: dict[str, str] = {}  # the choices of the newest screen shown: id -> label
    transcript = []
    for number, step in enumerate(script.steps, start=1):
        where = f"{channel.name}, step {number}: {step.describe()}"
        if step.command is not None:
            seen = await channel.command(step.command)
        elif step.press is not None:
            assert step.press in labels, f"{where}: no {step.press!r} on the screen shown ({list(labels)})"
            seen = await channel.press(step.press, labels[step.press])
        elif step.type is not None:
            seen = await channel.type(content.t(step.type.label) if isinstance(step.type, Label) else step.type)
        else:
            seen = await channel.wait(None if step.wait == "hold" else float(step.wait))
        views = [expected_view(message, renderer) for message in step.bot]
        assert [s.text for s in seen] == [shown(view) for view in views], where
        for message, view, said in zip(step.bot, views, seen, strict=True):
            ids = tuple(button.choice for button in view.buttons)
            assert ids == tuple(message.choices), f"{where}: the script's choices are not the screen's ({ids})"
            assert said.labels == tuple(button.label for button in view.buttons), where
            if said.choices is not None:
                assert said.choices == ids, where
            if message.kind == "referral":
                assert said.text.startswith(f"{marker} "), f"{where}: a referral without its marker"
                assert said.bold is (True if has_bold else None), f"{where}: a referral that is not bold"
            if view.buttons:
                labels = {button.choice: button.label for button in view.buttons}
        transcript.append(seen)
    return transcript


@pytest.fixture(params=SCRIPTS, ids=[path.stem for path in SCRIPTS])
def script(request) -> Script:
    return load(request.param)


def test_scripts_are_well_formed(content: Content) -> None:
    assert SCRIPTS, "no conversation script in tests/scripts"
    renderer = Renderer(content)
    for path in SCRIPTS:
        steps = load(path).steps
        assert any(m.kind == "referral" for step in steps for m in step.bot), f"{path.name}: no referral"
        for step in steps:
            for message in step.bot:
                expected_view(message, renderer)  # every key, screen and parameter exists in content


async def test_the_console(script: Script, content: Content, engine, tmp_path) -> None:
    parts = make_parts(core_for(content), await open_storage(f"sqlite:///{tmp_path / 'console.db'}"),
                       FakeClock(T0), "console")
    try:
        async with ConsoleChannel(parts) as console:
            await run(script, console, content, has_bold=False)
    finally:
        await parts.runtime.storage.close()


async def test_telegram(script: Script, content: Content, bot_api, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    telegram = World(bot_api, content, tmp_path / "telegram.db", FakeClock(T0), config_for(bot_api))
    await telegram.start()
    try:
        await run(script, TelegramChannel(telegram, content.wording.markers.referral), content, has_bold=True)
    finally:
        await telegram.stop()


async def test_discord(script: Script, content: Content, world) -> None:
    await run(script, DiscordChannel(world, content.wording.markers.referral), content, has_bold=True)
