"""Daily reminders through the pure engine, script style: /remind, the menu, the reminder and its choices.

T0 is Monday 2 March 2026, 09:00 UTC (10:00 in Berlin).
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import T0, Chat, said

from dialogs.events import CancelTimer, Say, ScheduleTimer, TimerFired, Undeliverable
from dialogs.flows.timers import DAILY_TIMER, SNOOZE_TIMER
from dialogs.state import ReminderSetup, UserState

BERLIN_0730_TUE = datetime(2026, 3, 3, 6, 30, tzinfo=UTC)  # 07:30 CET


def set_reminder(chat: Chat, time: str = "7:30", zone: str = "berlin", days: str = "daily"):
    chat.say("/remind")
    chat.say(time)
    chat.say(zone)
    return chat.press(days)


def reminder_says(steps) -> list[Say]:
    return [s for step in steps for s in step.says() if s.kind == "reminder"]


def labels(chat: Chat) -> list[str]:
    return [button.label for button in chat.buttons()]


# ---- setting a reminder ---------------------------------------------------------------------------
def test_remind_asks_time_zone_and_days_then_confirms_the_next_local_time(chat):
    step = chat.say("/remind")
    assert "What time" in said(step)
    assert labels(chat) == ["07:00", "08:00", "12:30", "18:00", "21:00"]
    step = chat.say("7:30")
    assert "time zone" in said(step) and "London" in labels(chat)
    step = chat.say("berlin")
    assert chat.choice_ids() == ["daily", "weekdays"]
    step = chat.press("Every day")
    assert "Next reminder: Tue 3 Mar at 07:30 (Europe/Berlin)" in said(step)
    assert ScheduleTimer(DAILY_TIMER, BERLIN_0730_TUE, {"on": "2026-03-03"}) in step.actions
    assert chat.timers[DAILY_TIMER][0] == BERLIN_0730_TUE
    reminder = chat.state.profile.reminder
    assert (reminder.hour, reminder.minute, reminder.timezone, reminder.days) == (7, 30, "Europe/Berlin", "daily")
    assert chat.state.profile.timezone == "Europe/Berlin"
    assert chat.state.side is None and chat.choice_ids() == []
    assert UserState.from_json(chat.state.to_json()) == chat.state


def test_buttons_alone_set_a_reminder(chat):
    chat.say("/remind")
    chat.press("08:00")
    chat.press("New York")
    step = chat.press("weekdays")
    # Monday 09:00 UTC is 04:00 in New York: today's 08:00 is still to come
    assert "Next reminder: Mon 2 Mar at 08:00 (America/New_York)" in said(step)
    assert chat.timers[DAILY_TIMER][0] == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)


def test_the_main_menu_choice_opens_the_same_conversation(chat):
    chat.say("/start")
    step = chat.press("Daily reminders")
    assert "What time" in said(step) and chat.state.side == ReminderSetup(step="time")


@pytest.mark.parametrize("typed, hour, minute", [
    ("7:30", 7, 30), ("19:00", 19, 0), ("7pm", 19, 0), ("7.30 am", 7, 30), ("12:30", 12, 30), ("0645", 6, 45),
    ("12am", 0, 0), ("7 P.M.", 19, 0),
])
def test_typed_times(chat, typed, hour, minute):
    chat.say("/remind")
    chat.say(typed)
    assert (chat.state.side.hour, chat.state.side.minute) == (hour, minute)


@pytest.mark.parametrize("typed, zone", [
    ("Europe/Berlin", "Europe/Berlin"), ("berlin", "Europe/Berlin"), ("New York", "America/New_York"),
    ("london", "Europe/London"), ("Tokyo", "Asia/Tokyo"), ("america/los_angeles", "America/Los_Angeles"),
    ("UTC+2", "UTC+02:00"), ("UTC-5:30", "UTC-05:30"), ("GMT+1", "UTC+01:00"), ("utc", "UTC"),
])
def test_typed_zones(chat, typed, zone):
    chat.say("/remind")
    chat.say("7:30")
    chat.say(typed)
    assert chat.state.side.zone == zone
    chat.press("daily")
    assert chat.state.profile.timezone == zone


def test_a_fixed_offset_zone_gives_the_right_instant(chat):
    step = set_reminder(chat, "7:30", "UTC-5:30")
    assert chat.timers[DAILY_TIMER][0] == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
    assert "Mon 2 Mar at 07:30 (UTC-05:30)" in said(step)


@pytest.mark.parametrize("typed", ["25:00", "7:75", "13pm", "tomorrow"])
def test_a_bad_time_gets_a_precise_hint_and_changes_nothing(chat, content, typed):
    chat.say("/remind")
    before = chat.state
    step = chat.say(typed)
    assert said(step).startswith(content.t("remind_bad_time", value=typed))
    assert "What time" in said(step)  # the same question again, with its buttons still valid
    assert step.says()[0].number == before.screen_no and chat.state == before
    assert not any(isinstance(a, (ScheduleTimer, CancelTimer)) for a in step.actions)


def test_a_bad_zone_gets_a_precise_hint_and_changes_nothing(chat, content):
    chat.say("/remind")
    chat.say("7:30")
    before = chat.state
    step = chat.say("Mars/Olympus")
    assert said(step).startswith(content.t("remind_bad_zone", value="Mars/Olympus"))
    assert chat.state == before
    for bad in ("UTC+15", "UTC+2:10", "atlantis"):
        assert "is not a time zone I know" in said(chat.say(bad))
    assert chat.state == before
    assert chat.state.profile.reminder is None and not chat.timers
    assert "x" * 40 + "… is not a time zone" in said(chat.say("x" * 500))  # quoted, but short


def test_pain_and_emergencies_keep_priority_inside_the_reminder_conversation(chat, content):
    chat.say("/remind")
    step = chat.say("that hurts")  # no session yet: pain described leads into the safety check
    assert content.t("pain_ack_start") in said(step) and chat.state.side is None
    chat.say("/stop")
    chat.say("/remind")
    chat.say("7:30")
    step = chat.say("I can't feel my legs")
    assert content.referral("A") in said(step) and chat.state.side is None


def test_remind_during_a_routine_leaves_the_routine_alone(chat):
    chat.say("/stretch")
    screen = chat.state.screen
    step = chat.say("/remind")
    assert "once this routine is done" in said(step)
    assert chat.state.side is None and chat.state.screen == screen and chat.state.session


def test_stop_closes_the_reminder_conversation(chat):
    chat.say("/remind")
    chat.say("/stop")
    assert chat.state.side is None and chat.state.profile.reminder is None


# ---- the menu for an existing reminder ------------------------------------------------------------
def test_remind_again_shows_the_reminder_and_offers_change_pause_off(chat):
    set_reminder(chat)
    step = chat.say("/remind")
    assert "Your stretch reminder: 07:30 every day (Europe/Berlin)" in said(step)
    assert "Next reminder: Tue 3 Mar at 07:30 (Europe/Berlin)" in said(step)
    assert chat.choice_ids() == ["change", "pause", "weekly_on", "off", "keep"]
    step = chat.press("keep")
    assert "stays as it is" in said(step) and chat.timers[DAILY_TIMER][0] == BERLIN_0730_TUE


def test_change_keeps_the_known_zone_on_offer(chat):
    set_reminder(chat)
    chat.say("/remind")
    chat.press("change")
    chat.press("18:00")
    assert (chat.choice_ids()[0], labels(chat)[0]) == ("zone_keep", "Keep Europe/Berlin")
    chat.press("zone_keep")
    step = chat.press("weekdays")
    assert "18:00 on weekdays (Europe/Berlin)" in said(step)
    assert "Next reminder: Mon 2 Mar at 18:00" in said(step)
    assert chat.timers[DAILY_TIMER][0] == datetime(2026, 3, 2, 17, 0, tzinfo=UTC)


def test_pause_for_typed_days_then_turn_back_on(chat):
    set_reminder(chat)
    chat.say("/remind")
    step = chat.press("pause")
    assert labels(chat) == ["1 day", "3 days", "7 days"]
    before = chat.state
    assert said(chat.say("0")).startswith("0 is not a number of days: type a number from 1 to 30.")
    assert said(chat.say("45 days")).startswith("45 days is not a number of days")
    assert chat.state == before
    step = chat.say("2 days")  # today's 07:30 is gone: Tue and Wed are skipped
    assert "Paused. Next reminder: Thu 5 Mar at 07:30 (Europe/Berlin)" in said(step)
    assert chat.timers[DAILY_TIMER][0] == datetime(2026, 3, 5, 6, 30, tzinfo=UTC)
    step = chat.say("/remind")
    assert "is paused" in said(step) and chat.choice_ids() == ["resume", "change", "weekly_on", "off"]
    step = chat.press("resume")
    assert "back on. Next reminder: Tue 3 Mar" in said(step)
    assert chat.timers[DAILY_TIMER][0] == BERLIN_0730_TUE


def test_pause_buttons_count_today_when_todays_reminder_is_still_to_come(chat):
    set_reminder(chat, "18:00")
    chat.say("/remind")
    chat.press("pause")
    step = chat.press("pause_1")
    assert "Next reminder: Tue 3 Mar at 18:00" in said(step)


def test_a_paused_reminder_sends_nothing_until_it_resumes(chat):
    set_reminder(chat)
    chat.say("/remind")
    chat.press("pause")
    chat.press("pause_3")  # today's is gone: Tue, Wed and Thu are skipped
    steps = chat.wait(4 * 86400)
    sent = [chat.now for s in steps for a in s.says() if a.kind == "reminder"]
    assert len(sent) == 1 and said(steps).count("Time for your stretch") == 1
    assert steps[0].says()[0].kind == "reminder"
    assert chat.state.profile.reminder.last_sent_on == "2026-03-06"


def test_turn_off_cancels_the_timers_and_keeps_the_zone(chat):
    set_reminder(chat)
    chat.say("/remind")
    step = chat.press("off")
    assert CancelTimer(DAILY_TIMER) in step.actions and CancelTimer(SNOOZE_TIMER) in step.actions
    assert "reminders are off" in said(step).lower()
    assert chat.state.profile.reminder is None and chat.state.profile.timezone == "Europe/Berlin"
    assert not chat.timers
    chat.now = BERLIN_0730_TUE  # a timer claimed just before it was cancelled says nothing
    for name in (DAILY_TIMER, SNOOZE_TIMER, "something_else"):
        assert chat.send(TimerFired(name, BERLIN_0730_TUE, {"on": "2026-03-03"})).actions == ()
    assert "What time" in said(chat.say("/remind"))  # set up afresh


# ---- the reminder itself --------------------------------------------------------------------------
def test_at_the_time_one_reminder_with_three_choices_and_the_next_day_scheduled(chat):
    set_reminder(chat)
    steps = chat.wait((BERLIN_0730_TUE - chat.now).total_seconds())
    [reminder] = reminder_says(steps)
    assert chat.renderer.render(reminder).text.startswith("Time for your stretch")
    assert labels(chat) == ["Start now", "Snooze 1 hour", "Skip today"]
    assert reminder.number == chat.state.screen_no
    assert chat.timers[DAILY_TIMER][0] == BERLIN_0730_TUE + timedelta(days=1)
    assert chat.state.profile.reminder.last_sent_on == "2026-03-03"
    # no nagging: nothing more that day
    assert reminder_says(chat.wait(86400 - 60)) == []


def test_one_reminder_a_day_over_a_week(chat):
    set_reminder(chat, days="weekdays")
    steps = chat.wait(7 * 86400)
    sent = [s for s in reminder_says(steps)]
    assert len(sent) == 5  # Tue..Fri and Mon: the weekend is skipped


def test_start_now_opens_a_session_with_the_quick_check_when_triage_is_fresh(engine):
    state = UserState()
    state.profile.last_screened_at, state.profile.last_outcome = T0 - timedelta(days=3), "clear"
    chat = Chat(engine, state=state)
    set_reminder(chat)
    chat.wait((BERLIN_0730_TUE - chat.now).total_seconds())
    step = chat.press("Start now")
    assert chat.state.session and chat.screen_id() == "screening.quick"
    assert chat.state.side is None and CancelTimer(SNOOZE_TIMER) in step.actions
    assert chat.choice_ids() == ["yes", "no"]


def test_start_now_typed_without_a_fresh_triage_asks_the_safety_questions(chat):
    set_reminder(chat)
    chat.wait((BERLIN_0730_TUE - chat.now).total_seconds())
    chat.say("start now")
    assert chat.screen_id() == "screening.group"


def test_snooze_reminds_once_an_hour_later(chat):
    set_reminder(chat)
    chat.wait((BERLIN_0730_TUE - chat.now).total_seconds())
    step = chat.press("snooze")
    assert "in an hour" in said(step)
    assert chat.timers[SNOOZE_TIMER][0] == BERLIN_0730_TUE + timedelta(hours=1)
    assert reminder_says(chat.wait(3599)) == []
    [again] = reminder_says(chat.wait(1))
    assert again.number == chat.state.screen_no and chat.choice_ids() == ["start_now", "snooze", "skip_today"]
    assert reminder_says(chat.wait(86400 - 3600 - 60)) == []  # and nothing more that day


def test_a_snooze_is_a_duration_the_runtime_may_scale_and_the_daily_time_is_not(chat):
    set_reminder(chat)
    [daily] = [a for a in chat.steps[-1].actions if isinstance(a, ScheduleTimer)]
    assert not daily.scalable  # a wall-clock time
    chat.wait((BERLIN_0730_TUE - chat.now).total_seconds())
    step = chat.press("snooze")
    [snooze] = [a for a in step.actions if isinstance(a, ScheduleTimer)]
    assert snooze.scalable and snooze.due == BERLIN_0730_TUE + timedelta(hours=1)


def test_skip_today_says_when_the_next_one_comes(chat):
    set_reminder(chat)
    chat.wait((BERLIN_0730_TUE - chat.now).total_seconds())
    chat.press("snooze")
    chat.say("/remind")  # the menu replaced the reminder screen; a fresh reminder comes with the snooze
    chat.wait(3600)
    step = chat.say("skip today")
    assert "no stretch today. Next reminder: Wed 4 Mar at 07:30 (Europe/Berlin)" in said(step)
    assert CancelTimer(SNOOZE_TIMER) in step.actions and chat.state.side is None


def test_a_duplicate_daily_timer_for_the_same_day_says_nothing(chat):
    set_reminder(chat)
    chat.wait((BERLIN_0730_TUE - chat.now).total_seconds())
    step = chat.send(TimerFired(DAILY_TIMER, BERLIN_0730_TUE, {"on": "2026-03-03"}))
    assert step.says() == []
    assert chat.timers[DAILY_TIMER][0] == BERLIN_0730_TUE + timedelta(days=1)


def test_a_later_time_set_on_a_day_that_had_its_reminder_starts_tomorrow(chat):
    set_reminder(chat)
    chat.wait((BERLIN_0730_TUE - chat.now).total_seconds() + 60)
    chat.say("/remind")
    chat.press("change")
    chat.press("18:00")
    chat.press("zone_keep")
    step = chat.press("daily")
    assert "Next reminder: Wed 4 Mar at 18:00" in said(step)


def test_an_outdated_daily_timer_says_nothing_and_the_current_one_stays(chat):
    set_reminder(chat)
    old_0700 = datetime(2026, 3, 3, 6, 0, tzinfo=UTC)
    chat.now = old_0700
    step = chat.send(TimerFired(DAILY_TIMER, old_0700, {"on": "2026-03-03"}))
    assert step.says() == []
    assert [a.due for a in step.actions if isinstance(a, ScheduleTimer)] == [BERLIN_0730_TUE]


def test_no_reminder_interrupts_a_routine(chat):
    set_reminder(chat)
    chat.now = BERLIN_0730_TUE - timedelta(minutes=1)
    chat.say("/stretch")
    screen = chat.state.screen
    steps = chat.wait(120)
    assert reminder_says(steps) == [] and chat.state.screen == screen
    assert chat.state.profile.reminder.last_sent_on == "2026-03-03"  # it counts: no second one today
    assert chat.timers[DAILY_TIMER][0] == BERLIN_0730_TUE + timedelta(days=1)


# ---- outages -------------------------------------------------------------------------------------
def test_a_reminder_one_hour_late_is_sent_once(chat):
    set_reminder(chat)
    chat.now = BERLIN_0730_TUE + timedelta(hours=1)
    step = chat.send(TimerFired(DAILY_TIMER, BERLIN_0730_TUE, {"on": "2026-03-03"}))
    assert len(reminder_says([step])) == 1
    assert [a.due for a in step.actions if isinstance(a, ScheduleTimer)] == [BERLIN_0730_TUE + timedelta(days=1)]
    again = chat.send(TimerFired(DAILY_TIMER, BERLIN_0730_TUE, {}))  # the day is read from `due` then
    assert again.says() == []


def test_a_reminder_three_hours_late_is_skipped_and_the_next_day_scheduled(chat):
    set_reminder(chat)
    chat.now = BERLIN_0730_TUE + timedelta(hours=3)
    step = chat.send(TimerFired(DAILY_TIMER, BERLIN_0730_TUE, {"on": "2026-03-03"}))
    assert step.says() == [] and not any(isinstance(a, Say) for a in step.actions)
    assert [a.due for a in step.actions if isinstance(a, ScheduleTimer)] == [BERLIN_0730_TUE + timedelta(days=1)]


def test_a_snooze_three_hours_late_is_dropped(chat):
    set_reminder(chat)
    chat.wait((BERLIN_0730_TUE - chat.now).total_seconds())
    chat.press("snooze")
    due = chat.timers.pop(SNOOZE_TIMER)[0]
    chat.now = due + timedelta(hours=3)
    assert chat.send(TimerFired(SNOOZE_TIMER, due, {"on": "2026-03-03"})).actions == ()


def test_undeliverable_pauses_reminders_and_the_user_can_turn_them_back_on(chat):
    set_reminder(chat)
    chat.wait((BERLIN_0730_TUE - chat.now).total_seconds())
    step = chat.send(Undeliverable("Forbidden: bot was blocked by the user"))
    assert CancelTimer(DAILY_TIMER) in step.actions and CancelTimer(SNOOZE_TIMER) in step.actions
    assert not chat.timers and chat.state.profile.unreachable
    assert chat.state.profile.reminder.enabled is False and chat.state.profile.reminder.hour == 7
    assert chat.state.side is None and chat.choice_ids() == []
    assert reminder_says(chat.wait(3 * 86400)) == []
    step = chat.say("/remind")
    assert "couldn't reach you" in said(step).lower()  # the engine's notice, once
    assert "is paused, because I couldn't reach you" in said(step)
    assert not chat.state.profile.unreachable
    step = chat.press("Turn back on")
    # it is Fri 07:30 exactly: the next one is tomorrow's
    assert "Next reminder: Sat 7 Mar at 07:30" in said(step) and DAILY_TIMER in chat.timers




# ---- odd inputs ------------------------------------------------------------------------------------
def test_unclear_text_on_the_reminder_screen_gets_the_options(chat):
    set_reminder(chat)
    chat.wait((BERLIN_0730_TUE - chat.now).total_seconds())
    before = chat.state
    step = chat.say("what?")
    assert "Start now, Snooze 1 hour, Skip today" in said(step) and chat.state == before


def test_skip_today_after_the_reminder_was_turned_off_elsewhere(chat):
    set_reminder(chat)
    chat.wait((BERLIN_0730_TUE - chat.now).total_seconds())
    chat.state.profile.reminder = None  # e.g. turned off from another device meanwhile
    step = chat.press("skip_today")
    assert "See you next time" in said(step) and chat.state.side is None


def test_a_reminder_screen_whose_flow_is_gone_is_closed_with_a_hint(engine):
    state = UserState(screen_no=3, screen={"id": "remind.days"})
    chat = Chat(engine, state=state)
    step = chat.press("daily")
    assert step.actions and chat.state.side is None and chat.state.screen is None
    assert "/stretch" in said(Chat(engine, state=UserState()).say("what"))

