"""The Expectation each screen gives the reader, taken from the REAL engine (dialogs.screens + Engine.expectation),
so the corpus judges what users actually see: the same choices, labels, moments and topics.

The corpus names a screen by its id and, for a safety question, a short topic ("saddle", "chest", "emergency");
TOPICS maps those to the content's question and group ids the engine puts on screen.
"""

from __future__ import annotations

from functools import cache

from dialogs.content import load_content
from dialogs.engine import Engine
from dialogs.state import Param, Screen
from dialogs.understanding import Expectation

# corpus topic -> the triage question id on screen (screening.item)
QUESTIONS = {
    "saddle": "saddle_numbness", "bladder_bowel": "bladder_bowel", "both_legs": "both_legs",
    "fall": "accident_or_fall", "chest": "chest_pain", "unwell": "unwell", "cancer": "cancer_or_lump",
    "night_pain": "constant_or_night", "pregnancy_warning": "pregnancy_warning", "age_first": "first_time_age",
    "osteoporosis": "bones_or_steroids", "pregnant": "pregnant", "disc_sciatica": "spine_history",
    "recurring": "keeps_coming_back",
}
GROUPS = {"emergency": 0, "urgent": 1, "caution": 1}  # corpus topic -> the group index on screen
ALIASES = {"welcome": "home", "menu": "home"}  # screen names the corpus uses for the home screen
SCREENING_TOPICS = tuple(QUESTIONS)
GROUP_TOPICS = tuple(GROUPS)


@cache
def engine() -> Engine:
    return Engine(load_content())


def screen_for(name: str, topic: str | None = None) -> Screen:
    """A representative screen of this id, with the parameters the engine would give it."""
    screen_id = ALIASES.get(name, name)
    params: dict[str, Param] = {"audience": "self"}
    if screen_id == "screening.group":
        params["group"] = GROUPS.get(topic or "emergency", 0)
    elif screen_id == "screening.item":
        params["question"] = QUESTIONS.get(topic or "saddle", topic or "saddle_numbness")
    elif screen_id == "routine.choose":
        params.update(ruled_out="", ruled_out_by="", resting="")
    elif screen_id.startswith("stretch."):
        params.update(stretch="knee_to_chest", number=1, count=3, hold=0, seconds=25)
    elif screen_id == "remind.menu":
        params.update(status="active", hour=7, minute=30, days="daily", zone="Europe/Berlin")
    elif screen_id in ("remind.zone", "weekly.zone"):
        params["known"] = ""
    return Screen(id=screen_id, params=params)


def expectation(name: str, topic: str | None = None, red_flag: bool | None = None) -> Expectation:
    """The Expectation the engine builds for this screen (with the topic of its question)."""
    real = engine()
    found = real.expectation(real.screens.spec(screen_for(name, topic)))
    if red_flag is None:
        return found
    return Expectation(found.answer, found.options, found.moment, red_flag, found.topic)


SCREENS: dict[str, Expectation] = {name: expectation(name) for name in (
    "welcome", "screening.group", "screening.item", "screening.score", "screening.kneeling", "screening.quick",
    "screening.after_pain", "routine.choose", "stretch.position", "stretch.hold", "stretch.checkin", "stretch.unsure",
    "session.done", "unsafe.offer", "remind.time", "remind.zone", "remind.days", "remind.menu", "remind.pause",
    "remind.due", "forget.confirm")}
EXERCISE_SCREENS = tuple(name for name, e in SCREENS.items() if e.moment == "exercise")
