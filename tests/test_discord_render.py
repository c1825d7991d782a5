"""Discord's mapping of a view (bot/discord/render.py and the adapter's privacy rule): Markdown that reads
back as exactly the view's text, a referral bold after its marker, button styles by role, and every answer
in a server ephemeral. Views come from the real renderer and content."""

from __future__ import annotations

import discord
import pytest
import test_discord
from discord_world import custom_ids, marked_bold, plain
from expected import exercise, line, referral, screen, shown, view
from hypothesis import given
from hypothesis import strategies as st

from bot.discord.render import MAX_CONTENT, ChoiceButton, content_chunks, screen_view
from dialogs.render import Renderer
from dialogs.views import ButtonView, MessageView, TextPart

# the Discord suite's world (simcord server with alice and bob, runtime on SQLite) for the privacy checks
db_url, parts, world = test_discord.db_url, test_discord.parts, test_discord.world
simcord_bot, expected_errors = test_discord.simcord_bot, test_discord.expected_errors
fail_on_swallowed_errors = test_discord.fail_on_swallowed_errors

OWNER = 123456789012345678  # a Discord snowflake


@pytest.fixture(scope="module")
def renderer(content) -> Renderer:
    return Renderer(content)


def styles(buttons: discord.ui.View) -> list[tuple[str, str, discord.ButtonStyle]]:
    return [(item.item.custom_id, item.item.label, item.item.style) for item in buttons.children]


# ---- text ---------------------------------------------------------------------------------------------
# Markdown's own characters included; no ":" (a URL is left unescaped by design, and is not our text)
characters = st.text(st.sampled_from("ab c*_~|`>#-\\[]()!.,'\"\n0é⚠️"), min_size=1, max_size=40)
text_parts = st.lists(
    st.builds(TextPart, characters, st.sampled_from(["plain", "strong", "title"]), st.booleans()),
    min_size=1,
    max_size=6,
)


@given(parts=text_parts, kind=st.sampled_from(["message", "cue", "referral"]), marker=st.sampled_from(["", "⚠️"]))
def test_any_text_reads_exactly_as_rendered(parts, kind, marker) -> None:
    """Whatever content says (asterisks, underscores, quotes, "# " at a line start), the user reads the view."""
    message = MessageView(kind, tuple(parts), marker=marker)
    [content] = content_chunks(message)
    assert plain(content) == shown(message)


def test_questions_and_titles_are_bold_lists_are_not(renderer) -> None:
    group = view(renderer, on=screen("screening.group", group=0))
    [content] = content_chunks(group)
    question, *items = content.split("\n\n")
    assert question == f"**{discord.utils.escape_markdown(renderer.text('group_ask_self'))}**"
    assert items[0].startswith("• ") and "**" not in "".join(items)
    position = view(renderer, on=exercise(renderer, "stretch.position", index=0, hold=0))
    title, *rest = content_chunks(position)[0].split("\n\n")
    assert plain(title) == position.parts[0].text and title.startswith("**") and title.endswith("**")
    assert not any(paragraph.startswith("**") for paragraph in rest)


@pytest.mark.parametrize("level", ["A", "B", "C", "pain"])
def test_a_referral_is_bold_after_its_marker(renderer, content, level) -> None:
    said = line("@pain_stop") if level == "pain" else line("@referral", level=level)
    message = view(renderer, said, "@safety_net", kind="referral")
    [content_text] = content_chunks(message)
    assert marked_bold(content_text, content.wording.markers.referral)
    assert plain(content_text) == referral(renderer, level) + "\n\n" + content.triage.safety_net


def test_ordinary_messages_carry_no_marker_and_no_bold(renderer) -> None:
    [content] = content_chunks(view(renderer, "stale_button"))
    assert content == discord.utils.escape_markdown(renderer.text("stale_button"))


def test_long_texts_are_split_below_discords_limit() -> None:
    paragraphs = tuple(TextPart(f"Paragraph {i} " + "word " * 60) for i in range(12))
    chunks = content_chunks(MessageView("message", paragraphs))
    assert len(chunks) > 1 and all(0 < len(chunk) <= MAX_CONTENT for chunk in chunks)
    assert all(chunk.startswith("Paragraph") for chunk in chunks)  # cut between paragraphs
    assert content_chunks(MessageView("message", ())) == [""]  # never no message at all


def test_a_bold_paragraph_longer_than_a_message_stays_bold_in_every_piece() -> None:
    words = " ".join(f"w_{i}*" for i in range(700))  # escaping makes it longer still
    chunks = content_chunks(MessageView("referral", (TextPart(words),), marker="⚠️"))
    assert len(chunks) > 1 and all(len(chunk) <= MAX_CONTENT for chunk in chunks)
    assert marked_bold(chunks[0], "⚠️") and all(marked_bold(f"⚠️ {chunk}", "⚠️") for chunk in chunks[1:])
    assert " ".join(plain(chunk) for chunk in chunks) == f"⚠️ {words}"


# ---- buttons -----------------------------------------------------------------------------------------
def test_button_styles_follow_the_role_in_the_views_order(renderer, content) -> None:
    success, danger, grey = discord.ButtonStyle.success, discord.ButtonStyle.danger, discord.ButtonStyle.secondary
    label = content.t
    position = view(renderer, on=exercise(renderer, "stretch.position", index=0, hold=0))
    assert styles(screen_view(OWNER, position)) == [
        (f"{OWNER}:1:ready", label("label_ready"), success),
        (f"{OWNER}:1:skip", label("label_skip"), grey),
        (f"{OWNER}:1:stop", label("label_stop"), grey),
        (f"{OWNER}:1:pain", label("label_pain"), danger),
    ]
    hold = view(renderer, on=exercise(renderer, "stretch.hold", index=0, hold=0))
    assert [style for _, _, style in styles(screen_view(OWNER, hold))] == [danger, grey, grey]  # It hurts first
    home = view(renderer, on=screen("home"))
    assert [style for _, _, style in styles(screen_view(OWNER, home))] == [success] + [grey] * (len(home.buttons) - 1)
    forget = view(renderer, on=screen("forget.confirm"))
    assert [style for _, _, style in styles(screen_view(OWNER, forget))] == [danger, grey]


def test_buttons_are_dynamic_items_that_keep_only_ids() -> None:
    many = MessageView("message", (TextPart("x"),), tuple(ButtonView(f"c{i}", "L" * 100) for i in range(30)), 7)
    buttons = screen_view(OWNER, many)
    assert all(isinstance(item, ChoiceButton) for item in buttons.children) and buttons.timeout is None
    assert len(buttons.children) == 25 and all(len(item.item.label) == 80 for item in buttons.children)
    assert screen_view(OWNER, MessageView("message", (TextPart("no choices"),))) is None


# ---- privacy: in a server every answer is only for the user -----------------------------------------
async def stale_press(world, me):
    """A press on a screen that was answered meanwhile (its buttons could not be removed: token expired)."""
    first = (await me.slash("stretch")).response
    [no] = [custom_id for custom_id in custom_ids(first) if custom_id.endswith(":no")]
    await world.wait(16 * 60)
    await me.slash("stop")
    return await me.world.settled((me.actor.user if me.dm else me.actor).click(first, custom_id=no))


async def emergency(me):
    """/stretch, then "one or more" on the first (emergency) group: the level A referral."""
    question = (await me.slash("stretch")).response
    [yes] = [custom_id for custom_id in custom_ids(question) if custom_id.endswith(":yes")]
    clicker = me.actor.user if me.dm else me.actor
    [referral_message] = (await me.world.settled(clicker.click(question, custom_id=yes))).followups
    return referral_message


async def test_in_a_server_every_kind_of_answer_is_ephemeral_and_in_dms_only_notices(world) -> None:
    me, marker = world.server, world.renderer.content.wording.markers.referral
    stale = await stale_press(world, me)
    assert stale.followups[0].ephemeral and plain(stale.followups[0].content) == world.t("stale_button")
    referral_message = await emergency(me)
    assert referral_message.ephemeral and marked_bold(referral_message.content, marker)
    assert me.messages() and all(m.flags.ephemeral for m in me.messages())
    assert world.channel.history(viewer=world.bob) == [] and world.channel.history() == []

    dms = world.dms
    stale = await stale_press(world, dms)
    assert stale.followups[0].ephemeral  # a notice is a private note, in DMs too
    referral_message = await emergency(dms)
    assert not referral_message.ephemeral and marked_bold(referral_message.content, marker)  # a DM keeps it
    assert dms.messages() and not any(m.flags.ephemeral for m in dms.messages())
