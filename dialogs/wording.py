"""Everything stretchbot says that is not a stretch, a question or a referral (content/ui.yaml).

A string is either plain text with {placeholders}, or plural forms chosen by one of its numbers
(`{count: done, one: "1 stretch", other: "{done} stretches"}`). English needs only "one" and "other";
another language would choose its forms by CLDR plural rules (Babel's `babel.plural`) in `Wording.t`.
The keys the code uses, with the placeholders it fills in, are listed once here (UI_KEYS): the loader
checks that content defines each and uses no other placeholder.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

Value = str | int | bool | None


class Plural(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    count: str = Field(pattern=r"^[a-z_]+$")  # the placeholder whose number picks the form
    one: str
    other: str


class CommandText(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: str = Field(pattern=r"^[a-z]{1,32}$")
    description: str = Field(min_length=3, max_length=100)  # Discord allows 100, Telegram 256


class Markers(BaseModel):
    """A sign in front of a message of each kind, so a referral looks like one on every platform."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    referral: str = Field(min_length=1, max_length=8)
    cue: str = Field(default="", max_length=8)
    reminder: str = Field(default="", max_length=8)


class Wording(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    strings: dict[str, str | Plural]
    commands: list[CommandText] = Field(min_length=1)
    markers: Markers

    def t(self, key: str, values: Mapping[str, Value] | None = None) -> str:
        """The string `key` with its placeholders filled in (and its plural form chosen)."""
        values = values or {}
        entry = self.strings[key]
        if isinstance(entry, Plural):
            count = values.get(entry.count)
            entry_text = entry.one if count == 1 else entry.other
        else:
            entry_text = entry
        return entry_text.format_map(_Values(values)) if "{" in entry_text else entry_text

    def marker(self, kind: str) -> str:
        return str(getattr(self.markers, kind, "") or "")


class _Values(dict[str, Value]):
    """Placeholders render their value; None renders as nothing (an optional part left out)."""

    def __init__(self, values: Mapping[str, Value]) -> None:
        super().__init__(values)

    def __missing__(self, key: str) -> str:
        raise KeyError(key)

    def __getitem__(self, key: str) -> Value:
        value = super().__getitem__(key)
        return "" if value is None else value


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _keys(**groups: tuple[str, ...]) -> dict[str, frozenset[str]]:
    return {key: frozenset(names) for key, names in groups.items()}


# The ui keys the code uses and the placeholders it fills in. A key's text may use fewer.
UI_KEYS: dict[str, frozenset[str]] = _keys(
    # home, help and general answers
    welcome=(), home=(), welcome_back=(), help=("answers",), hint=("options",), hint_idle=(),
    hint_typed=("typed",), greeting=(), thanks=(), unknown_command=("name",), stale_button=(),
    foreign_button=(), late=(), nothing_to_stop=(), unreachable_notice=(), error_sorry=(),
    mydata_private_only=(), ok=(),
    label_start=(), label_partner=(), label_remind=(), label_help=(), label_yes=(), label_no=(),
    label_progress=(), pictures_on=(), pictures_off=(),
    # screening
    screening_intro=("answers",), screening_intro_partner=("answers",), screening_again=("days",),
    screening_after_referral=(), screening_after_new=(), group_ask_self=(), group_ask_partner=(),
    label_group_yes=(), label_group_no=(), group_typed=(), doubt_intro=(), doubt_group_intro=(),
    doubt_end=(), label_might=(), label_still_unsure=(), score_range=("low", "high"), score_typed=(),
    quick_check=(), label_new_yes=(), label_new_no=(), after_pain=(), label_pain_gone=(),
    label_pain_better=(), label_pain_same=(), after_pain_same=(), pain_ack_start=(), pain_ack_screening=(),
    pain_ack_routine=(), screening_clear=(), advice_recurring=(),
    # routines and stretches
    choose_routine=(), choose_routine_gentle=(), routine_line=("title", "description"),
    ruled_out_kneeling_hurts=(), ruled_out_bones_or_steroids=(), no_routine_fits=(),
    position_title=("number", "count", "title", "side"), side_left=(), side_right=(), round=("number", "count"),
    press_ready=(), hold_start=("seconds", "during"), reps_start=("count", "duration", "during"),
    duration_start=("duration", "during"), halfway_hold=(), halfway_reps=(), halfway_duration=(),
    release_hold=(), release_reps=("count",), release_duration=(), checkin_self=(), checkin_partner=(),
    label_ready=(), label_skip=(), label_stop=(), label_pain=(), label_good=(), label_tight=(),
    label_carry_on=(), tight_tip=(), skipped=(), unsure=(), carry_on=(),
    duration_seconds=("seconds",), duration_minutes=("minutes",),
    # endings
    finished=("done", "duration"), stopped=("done",), offer_reminder=(), goodbye=(), label_no_thanks=(),
    unsafe_offer=(), score_before=(), score_after=(), label_skip_score=(),
    # the weekly summary (dialogs/flows/progress.py)
    weekly_offer=(), label_weekly_yes=(), weekly_ask_day=(), weekly_set=("weekday", "time", "zone", "next"),
    weekly_off=(), label_weekly_on=(), label_weekly_off=(),
    weekday_0=(), weekday_1=(), weekday_2=(), weekday_3=(), weekday_4=(), weekday_5=(), weekday_6=(),
    # your data
    mydata=(), mydata_nothing=(), mydata_file=(), mydata_since=("since",), mydata_outcome_clear=("when",),
    mydata_outcome_referral=("when", "level"), mydata_outcome_pain=("when",), mydata_restrictions=("tags",),
    mydata_reminder=("time", "days", "zone", "summary"), mydata_weekly=("weekday", "time", "zone"),
    mydata_sessions=("count", "completed"), mydata_ratings=("count",), mydata_pictures_off=(), still_answering=(),
    progress_chart=(), forget_confirm=(), label_forget_yes=(), label_forget_no=(),
    forgotten=(), forget_cancelled=(),
    # reminders (dialogs/flows/reminders.py)
    remind_ask_time=(), remind_bad_time=("value",), remind_ask_zone=(), remind_bad_zone=("value",),
    remind_ambiguous_zone=("value", "options"), remind_ask_days=(), remind_summary=("time", "days", "zone"),
    remind_every_day=(), remind_on_weekdays=(), remind_set=("summary", "next"), remind_status=("summary", "next"),
    remind_status_paused=("summary", "next"), remind_status_stopped=("summary",), remind_after_session=(),
    remind_ask_pause=("max",), remind_bad_pause=("value", "max"), remind_paused=("next",),
    remind_resumed=("next",), remind_off=(), remind_kept=(), reminder_due=(), remind_snoozed=(),
    remind_skipped=("next",), label_zone_keep=("zone",), label_every_day=(), label_weekdays=(),
    label_change=(), label_pause=(), label_resume=(), label_off=(), label_keep=(), label_pause_days=("days",),
    label_start_now=(), label_snooze=(), label_skip_today=(), time_format=("hour", "minute"),
)


def check_wording(wording: Wording, label: str, commands: tuple[str, ...]) -> str | None:
    """The first problem as "<file>: <field>: <what>", or None."""
    for key, allowed in UI_KEYS.items():
        entry = wording.strings.get(key)
        if entry is None:
            return f"{label}: strings.{key}: is required"
        if isinstance(entry, Plural) and entry.count not in allowed:
            return f"{label}: strings.{key}.count: {entry.count!r} is not a number this string is given"
        for text in [entry.one, entry.other] if isinstance(entry, Plural) else [entry]:
            extra = placeholders(text) - allowed
            if extra:
                given = ", ".join(sorted(allowed)) or "none"
                return f"{label}: strings.{key}: unknown placeholder {{{sorted(extra)[0]}}} (allowed: {given})"
    names = [command.name for command in wording.commands]
    for index, name in enumerate(names):
        if name in names[:index]:
            return f"{label}: commands[{index}].name: duplicate command {name!r}"
        if name not in commands:
            return f"{label}: commands[{index}].name: stretchbot has no command {name!r}"
    missing = [name for name in commands if name not in names]
    if missing:
        return f"{label}: commands: no description for /{missing[0]}"
    return None
