"""The weekly progress summary (issue 16) through the REAL runtime, storage (SQLite and PostgreSQL: the
`backend` fixture) and sender on a fake clock: set up in /remind, it comes exactly once a week on the
chosen day at the user's local time across a daylight-saving change (a skipped hour in Berlin, a
repeated one in New York), as the weekly words plus a chart picture rendered when it is sent; none
comes after it is turned off, or after /forget.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta

import pytest
from PIL import Image
from process_world import Delivery, Process, core_of

from bot.outgoing import CHART_FILENAME
from bot.runtime import FakeClock
from bot.storage import UserKey
from dialogs.content import Content
from dialogs.engine import Engine
from dialogs.events import Say
from dialogs.flows.timers import DAILY_TIMER, HOLD_TIMER
from dialogs.progress_text import held
from dialogs.schedule import zone_of
from dialogs.weekly import WEEKLY_TIMER

NORA = UserKey("telegram", "31")
SAFE = ("low", "better", "no", "skip")  # the answers that flag nothing, and "no score now"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# (zone typed, zone, first day 10:00 local, the time typed, the three Sundays' due instants)
CASES = [
    pytest.param("Berlin", "Europe/Berlin", utc(2026, 3, 16, 9), "2:30",
                 # 22 Mar CET; 29 Mar 02:30 does not exist (02:00 CET -> 03:00 CEST): 03:00; 5 Apr CEST
                 [utc(2026, 3, 22, 1, 30), utc(2026, 3, 29, 1, 0), utc(2026, 4, 5, 0, 30)],
                 id="berlin-spring-forward"),
    pytest.param("New York", "America/New_York", utc(2026, 10, 19, 14), "1:30",
                 # 25 Oct EDT; 1 Nov 01:30 happens twice (EDT, then EST): the first; 8 Nov EST
                 [utc(2026, 10, 25, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 8, 6, 30)],
                 id="new-york-fall-back"),
]


def weekly(process: Process) -> list[Delivery]:
    return [d for d in process.delivered if "progress" in d.body]


async def choices(process: Process) -> list[str]:
    state = await process.state(NORA)
    if state.screen is None:
        return []
    view = process.runtime.renderer.render(Say(screen=state.screen, number=state.screen_no))
    return [button.choice for button in view.buttons]


async def one_session(process: Process) -> None:
    """/stretch, the answers that flag nothing, the routine; each hold runs out on the clock and every
    check-in is "good"."""
    await process.talk(NORA, "/stretch")
    while (state := await process.state(NORA)).session is not None:
        screen, ids = state.screen.id if state.screen else None, await choices(process)
        if screen == "stretch.position":
            await process.talk(NORA, "[ready]")
            while hold := [t for t in await process.storage.timers(NORA) if t.name == HOLD_TIMER]:
                process.clock.advance(max(0.0, (hold[0].due - process.clock.now()).total_seconds()))
                await process.fire()
        elif screen == "routine.choose":
            await process.talk(NORA, "[nokneel]")
        else:
            await process.talk(NORA, f"[{next(c for c in (*SAFE, 'good') if c in ids)}]")
    assert [h.outcome for h in await process.storage.history(NORA)][-1:] == ["completed"]


async def set_up(process: Process, typed_zone: str, typed_time: str) -> str:
    """A daily reminder, then the weekly summary on Sundays (it takes the reminder's time and zone)."""
    await process.talk(NORA, "/remind", typed_time, typed_zone, "[daily]", address={"chat_id": 31})
    said = await process.talk(NORA, "/remind", "[weekly_on]", "[day_6]")
    return said[-1]


def local(moment: datetime, zone: str) -> tuple[date, time]:
    moment = moment.astimezone(zone_of(zone))
    return moment.date(), moment.time().replace(tzinfo=None)


@pytest.mark.parametrize("typed_zone, zone, start, typed_time, sundays", CASES)
async def test_the_weekly_summary_comes_once_a_week_at_local_time_across_dst_until_turned_off(
    store, engine: Engine, content: Content, typed_zone: str, zone: str, start: datetime, typed_time: str,
    sundays: list[datetime],
) -> None:
    nora = Process(core_of(engine), store, FakeClock(start))
    async with nora.sending():
        hour, minute = map(int, typed_time.split(":"))
        assert f"Sundays at {hour:02d}:{minute:02d} ({zone})" in await set_up(nora, typed_zone, typed_time)
        assert {t.name for t in await nora.storage.timers(NORA)} == {DAILY_TIMER, WEEKLY_TIMER}
        await nora.run_until(start + timedelta(days=1))
        await one_session(nora)  # on Tuesday: the first week has a session, the next two are quiet
        [session] = await nora.storage.history(NORA)
        await nora.run_until(start + timedelta(days=21))

        sent = weekly(nora)
        assert [d.at for d in sent] == sundays  # exactly once a week, at its local time
        assert {local(d.at, zone)[0].weekday() for d in sent} == {6}
        assert [d.body["kind"] for d in sent] == ["reminder"] * 3 and all(d.chat == "telegram:31" for d in sent)
        texts = content.progress.texts
        assert [d.text for d in sent] == [
            f"{texts.weekly_intro}\n"
            + texts.weekly_active.format(sessions="1 session", held=held(session.seconds, content.progress)),
            f"{texts.weekly_intro}\n{texts.weekly_quiet}",
            f"{texts.weekly_intro}\n{texts.weekly_quiet}",
        ]
        for delivery in sent:  # each with the chart as a picture, drawn when it was sent
            [view] = delivery.views
            picture = view.attachment
            assert picture is not None and (picture.kind, picture.name, picture.mime) == (
                "picture", CHART_FILENAME, "image/png")
            image = Image.open(io.BytesIO(picture.data or b""))
            assert image.format == "PNG" and image.width > 200 and picture.alt.startswith(content.progress.chart.title)
        assert sent[0].views[0].attachment != sent[1].views[0].attachment  # the chart shows the session

        said = await nora.talk(NORA, "/remind", "[weekly_off]")
        assert said[-1] == content.t("weekly_off")
        assert {t.name for t in await nora.storage.timers(NORA)} == {DAILY_TIMER}
        await nora.run_until(start + timedelta(days=42))
        assert weekly(nora) == sent  # nothing after it was turned off, though the daily reminders go on
        assert local(nora.delivered[-1].at, zone) == (local(start + timedelta(days=42), zone)[0], time(hour, minute))


async def test_no_weekly_summary_after_forget(store, engine: Engine) -> None:
    start = utc(2026, 3, 16, 9)
    nora = Process(core_of(engine), store, FakeClock(start))
    async with nora.sending():
        await set_up(nora, "Berlin", "7:30")
        await nora.run_until(start + timedelta(days=7))
        assert [d.at for d in weekly(nora)] == [utc(2026, 3, 22, 6, 30)]
        said = await nora.talk(NORA, "/forget", "[forget_yes]")
        assert "deleted" in said[-1]
        assert await nora.storage.timers(NORA) == [] and await nora.storage.pending("telegram:31") == []
        delivered = len(nora.delivered)
        await nora.run_until(start + timedelta(days=35))
        assert len(nora.delivered) == delivered  # not a summary, not anything


async def test_a_blocked_user_gets_no_weekly_summary_until_they_write_again(store, engine: Engine) -> None:
    start = utc(2026, 3, 16, 9)
    nora = Process(core_of(engine), store, FakeClock(start))
    async with nora.sending():
        await set_up(nora, "Berlin", "7:30")
        nora.gone.add("telegram:31")  # she blocks the bot: the transport answers "Forbidden"
        tried = nora.transport.tried
        await nora.run_until(start + timedelta(days=21))
        # the first message that failed (Tuesday's reminder) told the runtime, and nothing was tried again:
        # not the daily reminders, not three Sundays' summaries
        assert [d["body"]["kind"] for d in await store.dead_letters("telegram:31")] == ["reminder"]
        assert nora.transport.tried - tried == 1 and await store.timers(NORA) == []
        nora.gone.clear()
        said = await nora.talk(NORA, "/help")
        assert "couldn't reach you" in said[0]
        # the summary goes on by itself from its next Sunday; the daily reminders wait for /remind
        assert [t.name for t in await store.timers(NORA)] == [WEEKLY_TIMER]
        await nora.run_until(start + timedelta(days=28))
        assert [d.at for d in weekly(nora)] == [utc(2026, 4, 12, 5, 30)]
