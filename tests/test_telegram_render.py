"""Telegram's mapping of a view (bot/telegram/render.py): HTML that Telegram parses back to exactly the
view's text, a referral bold with its marker, keyboard rows in the view's order with "It hurts" on a row
of its own, and callback data within Telegram's 64 bytes. Views come from the real renderer and content;
the HTML is read by the fake Bot API's parser (tests/telegram_wire.py), which refuses what Telegram would.
"""

from __future__ import annotations

import pytest
from expected import exercise, line, referral, screen, shown, view
from hypothesis import given
from hypothesis import strategies as st
from telegram_wire import parse_html, utf16_len

from bot.telegram.render import MAX_TEXT, callback_data, html_chunks, keyboard, parse_callback_data
from dialogs.render import Renderer
from dialogs.views import ButtonView, MessageView, TextPart

OWNER = "9876543210"


@pytest.fixture(scope="module")
def renderer(content) -> Renderer:
    return Renderer(content)


def rows(markup) -> list[list[tuple[str, str]]]:
    """(label, choice id) per button, row by row."""
    return [[(b.text, b.callback_data.rsplit(":", 1)[-1]) for b in row] for row in markup.inline_keyboard]


def read(chunk: str) -> tuple[str, list[dict]]:
    return parse_html(chunk)  # raises ApiError where Telegram would answer 400 "can't parse entities"


# ---- text ---------------------------------------------------------------------------------------------
text_parts = st.lists(
    st.builds(
        TextPart,
        st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=60),
        st.sampled_from(["plain", "strong", "title"]),
        st.booleans(),
    ),
    min_size=1,
    max_size=8,
)


@given(
    parts=text_parts,
    kind=st.sampled_from(["message", "cue", "referral", "reminder"]),
    marker=st.sampled_from(["", "⚠️", "⏱️"]),
)
def test_any_text_reaches_the_user_exactly_as_rendered(parts, kind, marker) -> None:
    """Whatever the content says ("<", "&", quotes, emoji), Telegram shows the view's text, nothing else."""
    message = MessageView(kind, tuple(parts), marker=marker)
    [chunk] = html_chunks(message)
    assert read(chunk)[0] == shown(message)


def test_markup_and_text_that_looks_like_markup(renderer) -> None:
    message = MessageView(
        "message",
        (
            TextPart('Stretch 1 of 3: <Knee> & "chest"', "title"),
            TextPart("a < b & c", bullet=True),
            TextPart("d > e", bullet=True),
        ),
    )
    [chunk] = html_chunks(message)
    assert chunk == '<b>Stretch 1 of 3: &lt;Knee&gt; &amp; "chest"</b>\n\n• a &lt; b &amp; c\n• d &gt; e'
    text, entities = read(chunk)
    assert text == shown(message)
    assert entities == [{"type": "bold", "offset": 0, "length": utf16_len('Stretch 1 of 3: <Knee> & "chest"')}]


def test_a_question_is_bold_and_its_list_plain(renderer) -> None:
    group = view(renderer, on=screen("screening.group", group=0))
    [chunk] = html_chunks(group)
    text, entities = read(chunk)
    question = renderer.text("group_ask_self")
    assert text == shown(group) and text.startswith(question)
    assert entities == [{"type": "bold", "offset": 0, "length": utf16_len(question)}]


@pytest.mark.parametrize("level", ["A", "B", "C", "pain"])
def test_a_referral_is_bold_throughout_after_its_marker(renderer, content, level) -> None:
    said = line("@pain_stop") if level == "pain" else line("@referral", level=level)
    message = view(renderer, said, "@safety_net", kind="referral")
    assert message.marker == content.wording.markers.referral
    [chunk] = html_chunks(message)
    text, entities = read(chunk)
    assert text == referral(renderer, level) + "\n\n" + content.triage.safety_net
    assert chunk.startswith(f"{message.marker} <b>")
    bold, offset = [], utf16_len(message.marker + " ")
    for paragraph in message.text.split("\n\n"):  # every paragraph is bold; only the marker is left plain
        bold.append({"type": "bold", "offset": offset, "length": utf16_len(paragraph)})
        offset += utf16_len(paragraph + "\n\n")
    assert entities == bold


def test_an_ordinary_message_has_no_marker_and_no_bold(renderer) -> None:
    [chunk] = html_chunks(view(renderer, "stale_button"))
    assert read(chunk) == (renderer.text("stale_button"), [])


def test_long_texts_are_split_at_paragraphs_below_telegrams_limit() -> None:
    paragraphs = tuple(TextPart(f"Paragraph {i} " + "word & " * 150) for i in range(12))
    chunks = html_chunks(MessageView("message", paragraphs))
    assert len(chunks) > 1 and all(len(chunk) <= MAX_TEXT for chunk in chunks)
    assert "\n\n".join(read(chunk)[0] for chunk in chunks) == MessageView("message", paragraphs).text
    one_huge = html_chunks(MessageView("referral", (TextPart("x & y " * 2000),), marker="⚠️"))
    assert len(one_huge) > 1 and all(len(chunk) <= MAX_TEXT for chunk in one_huge)
    assert all(read(chunk)[1] and read(chunk)[1][0]["type"] == "bold" for chunk in one_huge)  # bold in each piece
    assert html_chunks(MessageView("message", (TextPart("short"),))) == ["short"]


# ---- buttons -----------------------------------------------------------------------------------------
def test_exercise_keyboards_keep_the_screens_order_with_it_hurts_on_its_own_row(renderer, content) -> None:
    hurts = f"🛑 {content.t('label_pain')}"
    label = content.t
    position = view(renderer, on=exercise(renderer, "stretch.position", index=0, hold=0))
    assert rows(keyboard(OWNER, position)) == [
        [(label("label_ready"), "ready"), (label("label_skip"), "skip"), (label("label_stop"), "stop")],
        [(hurts, "pain")],
    ]
    hold = view(renderer, on=exercise(renderer, "stretch.hold", index=0, hold=0))
    assert rows(keyboard(OWNER, hold)) == [
        [(hurts, "pain")],  # first during a hold, as on every platform
        [(label("label_skip"), "skip"), (label("label_stop"), "stop")],
    ]
    checkin = view(renderer, on=exercise(renderer, "stretch.checkin", index=0))
    in_rows = [choice for row in rows(keyboard(OWNER, checkin)) for _, choice in row]
    assert in_rows == [b.choice for b in checkin.buttons]
    assert rows(keyboard(OWNER, checkin))[-1] == [(hurts, "pain")]


def test_long_labels_get_a_row_each_and_short_ones_share(renderer) -> None:
    home = view(renderer, on=screen("home"))
    assert any(len(b.label) > 14 for b in home.buttons)
    assert rows(keyboard(OWNER, home)) == [[(b.label, b.choice)] for b in home.buttons]
    score = view(renderer, on=screen("screening.score"))
    assert rows(keyboard(OWNER, score)) == [[(b.label, b.choice) for b in score.buttons]]  # three short: one row
    group = view(renderer, on=screen("screening.group", group=0))
    assert rows(keyboard(OWNER, group)) == [[(b.label, b.choice) for b in group.buttons]]


def test_buttons_carry_owner_screen_and_choice_only_within_64_bytes(renderer) -> None:
    hold = MessageView(
        "cue", (TextPart("x"),), buttons=(ButtonView("pain", "It hurts", "danger", "0"),), screen=1_767_225_600
    )
    [[button]] = keyboard(OWNER, hold).inline_keyboard
    assert button.callback_data == f"{OWNER}:1767225600:pain"
    assert parse_callback_data(button.callback_data) == (OWNER, 1_767_225_600, "pain")
    assert parse_callback_data("9876543210:123456:forget_yes") == ("9876543210", 123456, "forget_yes")
    for garbage in ("garbage", None, "", "1:x:yes", "x:1:yes", "1:2:"):
        assert parse_callback_data(garbage) is None
    assert keyboard(OWNER, MessageView("message", (TextPart("no choices"),))) is None
    assert callback_data("1" * 20, 10**11, "c" * 30).count(":") == 2
    with pytest.raises(ValueError, match="64 bytes"):
        keyboard("1", MessageView("message", (TextPart("x"),), buttons=(ButtonView("c" * 70, "C"),), screen=1))


def test_every_screen_of_a_session_fits_telegram(renderer, content) -> None:
    """The longest real ids: a Telegram user id (up to 52 bits), a screen number near the clock."""
    owner, number = str(2**52), 10**11
    for routine in content.routines:
        for index in range(len(content.routines[routine].stretches)):
            for screen_id in ("stretch.position", "stretch.hold", "stretch.checkin"):
                message = view(renderer, on=exercise(renderer, screen_id, routine, index))
                message = MessageView(message.kind, message.parts, message.buttons, number, message.marker)
                assert keyboard(owner, message) is not None
