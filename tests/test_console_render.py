"""The console's mapping of a view (bot/console.py): the marker in front, the text, then each choice with
the key to type; typed keys become presses of the view on display, anything else stays text. Views come
from the real renderer and content."""

from __future__ import annotations

import io
import json

import pytest
from expected import exercise, line, screen, view

from bot.console import ConsoleChat, format_view
from bot.storage import UserKey
from dialogs.events import Button, Command, Notice, Text
from dialogs.render import Renderer
from dialogs.views import Attachment, MessageView, TextPart


@pytest.fixture(scope="module")
def renderer(content) -> Renderer:
    return Renderer(content)


def choice_line(rendered: MessageView) -> str:
    [*_, buttons] = format_view(rendered)
    return buttons


def test_a_screen_is_its_text_then_its_choices_with_their_keys(renderer, content) -> None:
    home = view(renderer, "welcome", on=screen("home"))
    numbered = [f"[{number}] {button.label}" for number, button in enumerate(home.buttons, start=1)]
    assert format_view(home) == [f"\nbot> {home.text}", "  " + "   ".join(numbered)]
    assert home.buttons[0].label == content.t("label_start") and home.buttons[-1].label == content.t("label_help")


def test_exercise_keys_are_stable_and_it_hurts_is_always_0(renderer, content) -> None:
    def keys(screen_id: str) -> str:
        return choice_line(view(renderer, on=exercise(renderer, screen_id)))

    def listed(*pairs: tuple[str, str]) -> str:
        return "  " + "   ".join(f"[{key}] {content.t(label)}" for key, label in pairs)

    ready, skip, stop, hurts = ("1", "label_ready"), ("2", "label_skip"), ("3", "label_stop"), ("0", "label_pain")
    assert keys("stretch.position") == listed(ready, skip, stop, hurts)
    assert keys("stretch.hold") == listed(hurts, skip, stop)  # "1" typed twice can never mean "It hurts"
    assert keys("stretch.checkin") == listed(("1", "label_good"), ("2", "label_tight"), hurts)


def test_screens_that_take_a_number_show_choices_without_keys(renderer) -> None:
    score = view(renderer, on=screen("screening.score"))
    assert choice_line(score) == "  " + "   ".join(f"({b.label})" for b in score.buttons)
    assert all(b.key is None for b in score.buttons)
    time = view(renderer, on=screen("remind.time"))
    assert all(b.key is None for b in time.buttons) and choice_line(time).startswith("  (")


def test_markers_go_in_front_of_referrals_cues_and_reminders(renderer, content) -> None:
    markers = content.wording.markers
    emergency = view(renderer, line("@referral", level="A"), kind="referral")
    assert format_view(emergency) == [f"\nbot> {markers.referral} {content.referral('A')}"]
    cue = view(renderer, "halfway_hold", kind="cue")
    assert format_view(cue) == [f"\nbot> {markers.cue} {content.t('halfway_hold')}"]
    due = view(renderer, on=screen("remind.due"), kind="reminder")
    assert format_view(due)[0] == f"\nbot> {markers.reminder} {content.t('reminder_due')}"
    plain = view(renderer, "stale_button")
    assert format_view(plain) == [f"\nbot> {content.t('stale_button')}"]


def test_notices_and_attachments(renderer, content) -> None:
    notice = renderer.notice(Notice(line("stale_button")))
    assert format_view(notice) == [f"  ({content.t('stale_button')})"]
    export = MessageView(
        "message",
        (TextPart(content.t("mydata_file")),),
        attachment=Attachment("file", "x.json", data=b'{"a": [1]}', mime="application/json"),
    )
    assert format_view(export) == [f"\nbot> {content.t('mydata_file')}", json.dumps({"a": [1]}, indent=2)]
    picture = MessageView(
        "message",
        (TextPart("Knee to chest"),),
        attachment=Attachment("picture", "k.png", path="/pics/k.png", alt="A person lying down"),
    )
    assert format_view(picture)[-1] == "  [picture: /pics/k.png] A person lying down"


def test_typed_keys_press_the_screen_on_display_and_words_stay_text(renderer, content) -> None:
    chat = ConsoleChat(runtime=None, key=UserKey("console", "me"), outgoing=None, out=io.StringIO())  # input only
    position = view(renderer, on=exercise(renderer, "stretch.position", index=0, hold=0))
    position = MessageView(position.kind, position.parts, position.buttons, 41, position.marker)
    chat.show([position])
    assert chat.event_for("1") == Button("ready", 41) and chat.event_for(" 0 ") == Button("pain", 41)
    assert chat.event_for("4") == Text("4")  # no such key
    assert chat.event_for(content.t("label_ready")) == Text(content.t("label_ready"))  # the engine reads words
    assert chat.event_for("/Stretch@me now") == Command("stretch", "now")
    score = view(renderer, on=screen("screening.score"))
    chat.show([MessageView(score.kind, score.parts, score.buttons, 42)])
    assert chat.event_for("3") == Text("3")  # a score, not the third button
    chat.show([view(renderer, line("@pain_stop"), kind="referral")])
    assert chat.event_for("1") == Text("1")  # after a referral no old screen can be pressed by its keys
    assert "\nbot> " + content.wording.markers.referral in chat.out.getvalue()
