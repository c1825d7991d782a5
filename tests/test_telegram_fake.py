"""The Telegram fake is faithful: the real python-telegram-bot talks to it over HTTP and behaves as it
would against Telegram (handlers fire, errors map to PTB's exceptions, shutdown is quick)."""

import asyncio
import datetime as dtm
import time

import pytest
import telegram_harness
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, EndPointNotFound, Forbidden, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram_fake import FakeBotApi
from telegram_harness import running

bot_api = telegram_harness.bot_api  # the Bot API fake fixture, shared by the Telegram tests

TOKEN = "123:TEST"
ALICE, BOB, GROUP = 5, 6, -100777


def echo_application(api: FakeBotApi) -> Application:
    """/start offers two buttons; text is echoed; a press is answered with a toast and edits the message."""

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton("Yes", callback_data="5:1:yes"), InlineKeyboardButton("No", callback_data="5:1:no")]]
        )
        await update.effective_message.reply_text("Ready?", reply_markup=keyboard)

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(f"echo: {update.effective_message.text}")

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer(f"{query.from_user.id} chose {query.data}")
        await query.edit_message_text(f"You chose {query.data.rsplit(':', 1)[-1]}")  # keyboard dropped

    app = ApplicationBuilder().token(TOKEN).base_url(api.base_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(pressed))
    return app


async def test_conversation_through_real_application(bot_api: FakeBotApi) -> None:
    app = echo_application(bot_api)
    async with running(app, poll_timeout=10):
        bot_api.send_command(ALICE, None, "/start")
        sent = await bot_api.wait_for("sendMessage")
        assert sent.params["chat_id"] == ALICE and sent.params["text"] == "Ready?"
        assert sent.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "5:1:yes"
        menu = bot_api.last_sent(ALICE)
        assert bot_api.buttons(menu) == ["5:1:yes", "5:1:no"]

        mark = bot_api.mark()
        bot_api.send_text(ALICE, None, "hi there")
        echo = await bot_api.wait_for("sendMessage", after=mark)
        assert echo.params["text"] == "echo: hi there"

        mark = bot_api.mark()
        bot_api.press(ALICE, None, menu, label="No")
        answer = await bot_api.wait_for("answerCallbackQuery", after=mark)
        edit = await bot_api.wait_for("editMessageText", after=mark)
        assert answer.params["text"] == f"{ALICE} chose 5:1:no"
        assert edit.status == 200 and edit.params["message_id"] == menu["message_id"]
        assert bot_api.message(ALICE, menu["message_id"])["text"] == "You chose no"
        assert bot_api.keyboard(menu) is None  # an edit that omits reply_markup removes the keyboard
        with pytest.raises(ValueError, match="no button"):
            bot_api.press(ALICE, None, menu, "5:1:yes")  # removed buttons cannot be pressed

    assert bot_api.sent_texts(ALICE) == ["Ready?", "echo: hi there"]
    assert bot_api.toasts() == [f"{ALICE} chose 5:1:no"]
    assert bot_api.unanswered_queries == set()
    methods = [call.method for call in bot_api.calls]
    assert methods[:2] == ["getMe", "deleteWebhook"]
    assert bot_api.updates == []  # PTB's final getUpdates(timeout=0) confirmed everything


async def test_group_chat_press_by_another_user(bot_api: FakeBotApi) -> None:
    async with running(echo_application(bot_api)):
        bot_api.send_command(ALICE, GROUP, "/start@stretch_test_bot")
        await bot_api.wait_for("sendMessage")
        menu = bot_api.last_sent(GROUP)
        assert menu["chat"]["type"] == "supergroup"
        bot_api.press(BOB, GROUP, menu["message_id"], "5:1:yes")
        await bot_api.wait_for("answerCallbackQuery")
    assert bot_api.toasts() == [f"{BOB} chose 5:1:yes"]
    assert bot_api.calls_to("sendMessage")[0].params["chat_id"] == GROUP


async def test_stop_does_not_wait_for_the_long_poll(bot_api: FakeBotApi) -> None:
    app = echo_application(bot_api)
    async with running(app, poll_timeout=30):
        while bot_api.waiting_pollers == 0:  # PTB is now inside a 30-second long poll
            await asyncio.sleep(0.01)
        started = time.monotonic()
    assert time.monotonic() - started < 1.0
    final = bot_api.calls_to("getUpdates")[-1]
    assert final.params["timeout"] == 0


async def test_handler_errors_fail_the_test(bot_api: FakeBotApi) -> None:
    async def broken(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        raise RuntimeError("handler bug")

    app = ApplicationBuilder().token(TOKEN).base_url(bot_api.base_url).build()
    app.add_handler(MessageHandler(filters.TEXT, broken))
    with pytest.raises(RuntimeError, match="handler bug"):
        async with running(app):
            bot_api.send_text(ALICE, None, "boom")
            while bot_api.updates:  # confirmed once PTB polls again, i.e. after dispatching it
                await asyncio.sleep(0.01)


@pytest.fixture
async def bot(bot_api: FakeBotApi, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # RetryAfter.retry_after as timedelta, no deprecation warning
    async with Bot(TOKEN, base_url=bot_api.base_url) as direct_bot:
        yield direct_bot


async def test_429_raises_retry_after_once(bot: Bot, bot_api: FakeBotApi) -> None:
    bot_api.fail_next("sendMessage", 429, retry_after=3)
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(chat_id=ALICE, text="hello")
    assert raised.value.retry_after == dtm.timedelta(seconds=3)
    assert bot_api.sent_texts() == []
    await bot.send_message(chat_id=ALICE, text="hello")  # one-shot: the retry goes through
    assert bot_api.sent_texts() == ["hello"]
    assert [call.status for call in bot_api.calls_to("sendMessage")] == [429, 200]


async def test_403_raises_forbidden_for_one_chat_until_cleared(bot: Bot, bot_api: FakeBotApi) -> None:
    bot_api.fail_next("sendMessage", 403, times=None, chat_id=ALICE)
    for _ in range(2):
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(chat_id=ALICE, text="still there?")
    await bot.send_message(chat_id=BOB, text="hi Bob")
    bot_api.clear_failures()
    await bot.send_message(chat_id=ALICE, text="welcome back")
    assert bot_api.sent_texts() == ["hi Bob", "welcome back"]


async def test_500_raises_network_error_n_times(bot: Bot, bot_api: FakeBotApi) -> None:
    bot_api.fail_next("sendMessage", 500, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(chat_id=ALICE, text="x")
    await bot.send_message(chat_id=ALICE, text="x")


async def test_unknown_method_is_telegram_404(bot: Bot, bot_api: FakeBotApi) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod", api_kwargs={"x": 1})
    assert bot_api.calls[-1].status == 404


async def test_telegram_rules_bots_trip_over(bot: Bot, bot_api: FakeBotApi) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]])
    message = await bot.send_message(chat_id=ALICE, text="Same", reply_markup=keyboard)
    assert message.message_id == 1 and message.reply_markup == keyboard
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Same", chat_id=ALICE, message_id=message.message_id, reply_markup=keyboard)
    await bot.edit_message_reply_markup(chat_id=ALICE, message_id=message.message_id)
    assert bot_api.keyboard(bot_api.last_sent(ALICE)) is None
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=ALICE, message_id=99)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(chat_id=ALICE, text="x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(
            chat_id=ALICE,
            text="x",
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Long", callback_data="d" * 65)]]),
        )
    # HTML markup does not count toward the limit; the stored text is what the user sees.
    html = await bot.send_message(chat_id=ALICE, text="<b>" + "y" * 4096 + "</b>", parse_mode="HTML")
    assert html.message_id == 2 and html.text == "y" * 4096


async def test_callback_query_can_be_answered_once(bot: Bot, bot_api: FakeBotApi) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]])
    message = await bot.send_message(chat_id=ALICE, text="Go?", reply_markup=keyboard)
    update = bot_api.press(ALICE, None, message.message_id, "go")
    query_id = update["callback_query"]["id"]
    assert await bot.answer_callback_query(query_id, text="ok")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)


async def test_get_updates_honours_offset_limit_and_timeout(bot: Bot, bot_api: FakeBotApi) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=0) == ()
    assert time.monotonic() - started < 0.5
    for text in ("one", "two", "three"):
        bot_api.send_text(ALICE, None, text)
    first = await bot.get_updates(limit=2, timeout=0)
    assert [u.message.text for u in first] == ["one", "two"]
    again = await bot.get_updates(limit=2, timeout=0)  # nothing confirmed yet: same updates again
    assert [u.update_id for u in again] == [u.update_id for u in first]
    rest = await bot.get_updates(offset=first[-1].update_id + 1, timeout=0)
    assert [u.message.text for u in rest] == ["three"]
    assert [u["message"]["text"] for u in bot_api.updates] == ["three"]
    assert await bot.get_updates(offset=rest[-1].update_id + 1, timeout=0) == ()

    waiting = asyncio.create_task(bot.get_updates(offset=rest[-1].update_id + 1, timeout=10))
    while bot_api.waiting_pollers == 0:
        await asyncio.sleep(0.01)
    started = time.monotonic()
    bot_api.send_command(BOB, None, "/start now")
    (command,) = await waiting
    assert time.monotonic() - started < 0.5  # answered when the update arrived, not at the timeout
    assert command.message.text == "/start now" and command.message.chat.type == "private"
    assert command.message.entities[0].type == "bot_command" and command.message.entities[0].length == 6


async def test_form_values_are_decoded_like_telegram_does(bot: Bot, bot_api: FakeBotApi) -> None:
    await bot.send_message(chat_id=ALICE, text="42")  # a numeric-looking text stays a string
    await bot.set_my_commands([("start", "Begin"), ("help", "Help")])
    sent = bot_api.calls_to("sendMessage")[0]
    assert sent.params["text"] == "42" and sent.params["chat_id"] == ALICE
    assert bot_api.commands == [
        {"command": "start", "description": "Begin"},
        {"command": "help", "description": "Help"},
    ]
    me = await bot.get_me()
    assert me.id == 123 and me.username == "stretch_test_bot"


async def test_html_parse_mode_becomes_entities_and_unescaped_text_is_refused(bot: Bot, bot_api: FakeBotApi) -> None:
    sent = await bot.send_message(
        chat_id=ALICE, text="⚠️ <b>Stop &amp; rest</b>\n\n• <i>a &lt;b&gt;</i>", parse_mode="HTML"
    )
    assert sent.text == "⚠️ Stop & rest\n\n• a <b>"
    # offsets count UTF-16 units, as Telegram's do: "⚠️ " is 3 of them
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 3, 11), ("italic", 18, 5)]
    assert sent.text_html == "⚠️ <b>Stop &amp; rest</b>\n\n• <i>a &lt;b&gt;</i>"  # PTB rebuilds it from entities
    for broken, why in (
        ("a < b", "Unexpected character"),
        ("<p>x</p>", 'Unsupported start tag "p"'),
        ("<b>open", "Can't find end tag"),
        ("<b>x</i>", "Unmatched end tag"),
        ("&nbsp;", "Unsupported HTML entity"),
    ):
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities: " + why):
            await bot.send_message(chat_id=ALICE, text=broken, parse_mode="HTML")
    await bot.send_message(chat_id=ALICE, text="a < b")  # without a parse mode "<" is just text
    assert bot_api.shown_texts(ALICE) == ["⚠️ Stop & rest\n\n• a <b>", "a < b"]


async def test_html_edits_keep_entities_and_count_for_not_modified(bot: Bot, bot_api: FakeBotApi) -> None:
    sent = await bot.send_message(chat_id=ALICE, text="<b>Question</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("<b>Question</b>", chat_id=ALICE, message_id=sent.message_id, parse_mode="HTML")
    edited = await bot.edit_message_text("Question", chat_id=ALICE, message_id=sent.message_id)  # bold goes
    assert edited.text == "Question" and edited.entities == ()
    assert "entities" not in bot_api.message(ALICE, sent.message_id)


async def test_send_document_keeps_the_file_and_its_caption(bot: Bot, bot_api: FakeBotApi) -> None:
    from telegram import InputFile

    sent = await bot.send_document(ALICE, InputFile(b'{"a": 1}', filename="data.json"), caption="Your data")
    assert sent.document.file_name == "data.json" and sent.document.file_size == 8 and sent.caption == "Your data"
    upload = bot_api.documents[(ALICE, sent.message_id)]
    assert (upload.filename, upload.content) == ("data.json", b'{"a": 1}')
    assert bot_api.shown_texts(ALICE) == ["Your data"]
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_document(ALICE, InputFile(b"x", filename="x.txt"), caption="c" * 1025)
