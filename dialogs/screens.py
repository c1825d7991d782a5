"""The screens: for each screen id, its choices (label, role, typed key) and what an answer to it looks like.

A screen is data in the state (`Screen(id, params)`); this catalogue turns it into choices when the engine
checks a press or reads typed text, and when dialogs.render draws it. Console keys are stable: within a
stretch the same action keeps its number on every screen (Ready 1, Skip 2, Stop 3) and "It hurts" is
always 0, so typing the same number twice can never turn "Ready" into "It hurts"; screens that take a
typed number as a value (pain score, time, days) have no number keys at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from dialogs.content import Content, Routine
from dialogs.schedule import clock_text
from dialogs.state import Param, Screen
from dialogs.views import Role

Moment = Literal["idle", "before_exercise", "exercise"]
AnswerKind = Literal["choice", "yes_no", "score", "time", "zone", "days", "free"]

TIME_BUTTONS = ((7, 0), (8, 0), (12, 30), (18, 0), (21, 0))
PAUSE_BUTTONS = (1, 3, 7)


@dataclass(frozen=True)
class Choice:
    id: str
    label: str
    role: Role = "secondary"
    key: str | None = None


SPEC_CACHE_SIZE = 4096


@dataclass(frozen=True)
class ScreenSpec:
    answer: AnswerKind
    moment: Moment
    choices: tuple[Choice, ...] = ()
    red_flag: bool = False  # a safety question: doubt gets an explanation and the cautious path
    topic: str | None = None  # what a yes/no is about (a question or group id)
    typed: str = ""  # ui key of what may be typed besides the choices (a hint for keyboards)

    def choice_ids(self) -> tuple[str, ...]:
        return tuple(choice.id for choice in self.choices)


def numbered(choices: list[Choice]) -> tuple[Choice, ...]:
    """Keys 1, 2, 3... in order, except choices that already have a key (pain's 0)."""
    out, number = [], 1
    for choice in choices:
        if choice.key is None:
            choice = replace(choice, key=str(number))
            number += 1
        out.append(choice)
    return tuple(out)


def offered_routines(content: Content, ruled_out: list[str], audience: str) -> list[Routine]:
    """The routines for this audience whose stretches have none of the ruled-out tags."""
    banned = set(ruled_out)
    return [r for r in content.routines.values() if r.partner == (audience == "partner")
            and not any(banned & set(content.stretches[s].tags) for s in r.stretches)]


def split(value: str) -> list[str]:
    return [part for part in value.split(",") if part]


class Screens:
    """The screen catalogue for one Content. Build once per engine."""

    def __init__(self, content: Content) -> None:
        self.content = content
        # a spec depends only on the screen (id and parameters) and the content: built once, then looked up
        self._built: dict[tuple[str, tuple[tuple[str, Param], ...]], ScreenSpec] = {}
        self._specs: dict[str, Callable[[Screen], ScreenSpec]] = {
            "home": self._home,
            "screening.group": self._group,
            "screening.item": self._item,
            "screening.score": self._score,
            "screening.kneeling": self._kneeling,
            "screening.quick": self._quick,
            "screening.after_pain": self._after_pain,
            "routine.choose": self._routines,
            "stretch.position": self._position,
            "stretch.hold": self._hold,
            "stretch.checkin": self._checkin,
            "stretch.unsure": self._unsure,
            "session.done": self._done,
            "screening.before": self._back_score,
            "session.score_after": self._back_score,
            "session.offer": self._offer,
            "weekly.offer": self._weekly_offer,
            "weekly.day": self._weekly_day,
            "weekly.zone": self._remind_zone,
            "unsafe.offer": self._unsafe_offer,
            "remind.time": self._remind_time,
            "remind.zone": self._remind_zone,
            "remind.days": self._remind_days,
            "remind.menu": self._remind_menu,
            "remind.pause": self._remind_pause,
            "remind.due": self._remind_due,
            "forget.confirm": self._forget,
        }

    def known(self, screen_id: str) -> bool:
        return screen_id in self._specs

    def spec(self, screen: Screen) -> ScreenSpec:
        key = (screen.id, tuple(sorted(screen.params.items())))
        built = self._built.get(key)
        if built is None:
            if len(self._built) >= SPEC_CACHE_SIZE:  # parameters vary (stretch, hold...): stay bounded
                self._built.clear()
            built = self._built[key] = self._specs[screen.id](screen)
        return built

    def label(self, key: str, **values: str | int | None) -> str:
        return self.content.t(key, **values)

    def _choice(self, choice_id: str, label_key: str, role: Role = "secondary", key: str | None = None) -> Choice:
        return Choice(choice_id, self.label(label_key), role, key)

    # ---- home ------------------------------------------------------------------------------------
    def _home(self, screen: Screen) -> ScreenSpec:
        return ScreenSpec("choice", "idle", numbered([
            self._choice("start", "label_start", "primary"), self._choice("partner", "label_partner"),
            self._choice("progress", "label_progress"), self._choice("remind", "label_remind"),
            self._choice("help", "label_help")]))

    def _back_score(self, screen: Screen) -> ScreenSpec:
        # no number keys: a typed number is the score ("3" means 3)
        scores = [Choice(f"s{value}", str(value)) for value in range(11)]
        return ScreenSpec("score", "idle", (*scores, self._choice("skip", "label_skip_score")),
                          topic="back_score", typed="score_typed")

    def _offer(self, screen: Screen) -> ScreenSpec:
        texts = self.content.adaptation.texts
        return ScreenSpec("yes_no", "idle", numbered([Choice("yes", texts.label_offer_yes, "primary"),
                                                      Choice("no", texts.label_offer_no)]))

    def _weekly_offer(self, screen: Screen) -> ScreenSpec:
        return ScreenSpec("yes_no", "idle", numbered([
            self._choice("yes", "label_weekly_yes", "primary"), self._choice("no", "label_no_thanks")]))

    def _weekly_day(self, screen: Screen) -> ScreenSpec:
        return ScreenSpec("choice", "idle", numbered([self._choice(f"day_{day}", f"weekday_{day}")
                                                      for day in range(7)]))

    def _done(self, screen: Screen) -> ScreenSpec:
        return ScreenSpec("yes_no", "idle", numbered([
            self._choice("yes", "label_remind", "primary"), self._choice("no", "label_no_thanks")]))

    def _unsafe_offer(self, screen: Screen) -> ScreenSpec:
        return ScreenSpec("yes_no", "idle", numbered([
            self._choice("yes", "label_start", "primary"), self._choice("no", "label_no_thanks")]))

    # ---- screening -------------------------------------------------------------------------------
    def _yes_no(self, screen: Screen, yes: str, no: str) -> tuple[Choice, ...]:
        choices = [self._choice("yes", yes), self._choice("no", no)]
        if screen.param("explained"):
            choices.append(self._choice("unsure", "label_still_unsure"))
        return numbered(choices)

    def _group(self, screen: Screen) -> ScreenSpec:
        group = self.content.triage.groups[screen.number("group")]
        return ScreenSpec("yes_no", "before_exercise", self._yes_no(screen, "label_group_yes", "label_group_no"),
                          red_flag=True, topic=group.id, typed="group_typed")

    def _item(self, screen: Screen) -> ScreenSpec:
        yes = "label_might" if screen.param("explained") else "label_yes"
        return ScreenSpec("yes_no", "before_exercise", self._yes_no(screen, yes, "label_no"),
                          red_flag=True, topic=screen.text("question"))

    def _score(self, screen: Screen) -> ScreenSpec:
        flag = self.content.triage.score.flag_at
        ranges = (("low", 0, max(0, flag - 4)), ("mid", max(1, flag - 3), flag - 1), ("high", flag, 10))
        # no number keys: a typed number is a score ("3" means 3, never "the third button")
        return ScreenSpec("score", "before_exercise", tuple(
            Choice(choice_id, self.label("score_range", low=low, high=high)) for choice_id, low, high in ranges),
            topic="pain_score", typed="score_typed")

    def _kneeling(self, screen: Screen) -> ScreenSpec:
        return ScreenSpec("yes_no", "before_exercise", self._yes_no(screen, "label_yes", "label_no"),
                          topic=self.content.triage.kneeling.id)

    def _quick(self, screen: Screen) -> ScreenSpec:
        return ScreenSpec("yes_no", "before_exercise", self._yes_no(screen, "label_new_yes", "label_new_no"),
                          red_flag=True, topic="quick_check")

    def _after_pain(self, screen: Screen) -> ScreenSpec:
        return ScreenSpec("choice", "before_exercise", numbered([
            self._choice("gone", "label_pain_gone"), self._choice("better", "label_pain_better"),
            self._choice("same", "label_pain_same")]))

    # ---- routines and stretches ------------------------------------------------------------------
    def _routines(self, screen: Screen) -> ScreenSpec:
        routines = offered_routines(self.content, split(screen.text("ruled_out")), screen.text("audience"))
        texts = self.content.adaptation.texts
        stretches = self.content.stretches
        resting = [Choice(f"back_{stretch}", texts.label_bring_back.format(stretch=stretches[stretch].title))
                   for stretch in split(screen.text("resting")) if stretch in stretches]
        return ScreenSpec("choice", "before_exercise", numbered([*(Choice(r.id, r.title) for r in routines), *resting]))

    def _pain(self) -> Choice:
        return self._choice("pain", "label_pain", "danger", "0")

    def _position(self, screen: Screen) -> ScreenSpec:
        return ScreenSpec("choice", "exercise", (
            self._choice("ready", "label_ready", "primary", "1"), self._choice("skip", "label_skip", key="2"),
            self._choice("stop", "label_stop", key="3"), self._pain()))

    def _hold(self, screen: Screen) -> ScreenSpec:
        return ScreenSpec("choice", "exercise", (
            self._pain(), self._choice("skip", "label_skip", key="2"), self._choice("stop", "label_stop", key="3")))

    def _checkin(self, screen: Screen) -> ScreenSpec:
        return ScreenSpec("choice", "exercise", (
            self._choice("good", "label_good", "primary", "1"), self._choice("tight", "label_tight", key="2"),
            self._pain()))

    def _unsure(self, screen: Screen) -> ScreenSpec:
        return ScreenSpec("choice", "exercise", (self._pain(), self._choice("carry_on", "label_carry_on", key="1")))

    # ---- reminders and data ----------------------------------------------------------------------
    def _remind_time(self, screen: Screen) -> ScreenSpec:
        # no number keys: a typed number is an hour ("5" is 05:00)
        return ScreenSpec("time", "idle", tuple(
            Choice(f"at_{hour:02d}{minute:02d}", clock_text(hour, minute)) for hour, minute in TIME_BUTTONS))

    def _remind_zone(self, screen: Screen) -> ScreenSpec:
        known = screen.text("known")
        choices = [Choice("zone_keep", self.label("label_zone_keep", zone=known))] if known else []
        choices += [Choice(f"zone_{i}", button.label) for i, button in enumerate(self.content.places.buttons)
                    if button.zone != known]
        return ScreenSpec("zone", "idle", numbered(choices))

    def _remind_days(self, screen: Screen) -> ScreenSpec:
        return ScreenSpec("choice", "idle", numbered([
            self._choice("daily", "label_every_day"), self._choice("weekdays", "label_weekdays")]))

    def _remind_menu(self, screen: Screen) -> ScreenSpec:
        names = ["change", "pause", "off", "keep"] if screen.text("status") == "active" else ["resume", "change", "off"]
        names.insert(names.index("off"), "weekly_off" if screen.param("weekly") else "weekly_on")
        return ScreenSpec("choice", "idle", numbered([self._choice(name, f"label_{name}") for name in names]))

    def _remind_pause(self, screen: Screen) -> ScreenSpec:
        # the key of each button is its number of days, so a typed "3" means 3 days either way
        return ScreenSpec("days", "idle", tuple(
            Choice(f"pause_{days}", self.label("label_pause_days", days=days), key=str(days))
            for days in PAUSE_BUTTONS))

    def _remind_due(self, screen: Screen) -> ScreenSpec:
        return ScreenSpec("choice", "idle", numbered([
            self._choice("start_now", "label_start_now", "primary"), self._choice("snooze", "label_snooze"),
            self._choice("skip_today", "label_skip_today")]))

    def _forget(self, screen: Screen) -> ScreenSpec:
        return ScreenSpec("choice", "idle", numbered([
            self._choice("forget_yes", "label_forget_yes", "danger"), self._choice("forget_no", "label_forget_no")]))
