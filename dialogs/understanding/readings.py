"""What the reader is told (an Expectation built from the screen on display) and what it answers (a Reading).

The reader never decides outcomes: it says what a message means in the context of the screen, and the
engine decides what to do with that meaning (stop the session, show the referral, take the answer...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AnswerKind = Literal["choice", "yes_no", "score", "time", "zone", "days", "free"]
Moment = Literal["idle", "before_exercise", "exercise"]


@dataclass(frozen=True)
class Option:
    """A choice on the screen: its id (what the engine acts on) and its label as shown."""

    id: str
    label: str


@dataclass(frozen=True)
class Expectation:
    """What the screen on display expects; the engine builds it from its screen."""

    answer: AnswerKind
    options: tuple[Option, ...] = ()
    moment: Moment = "idle"
    red_flag: bool = False  # a safety question: doubt there gets help, and a hedged "probably not" is doubt
    topic: str | None = None  # what a yes/no is about ("saddle", "chest"...): "yes, it's numb" needs no place

    def has(self, option_id: str) -> bool:
        return any(option.id == option_id for option in self.options)


# ---- readings ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Choose:
    """An option on the screen ("ready", "tight"...); on yes/no screens always "yes" or "no"."""

    choice_id: str


@dataclass(frozen=True)
class Pick:
    """One item of a listed group named by its place ("the second one"), on a yes/no screen; 0-based."""

    index: int


@dataclass(frozen=True)
class Score:
    """A 0-10 pain score (a range or "5 or 6" gives the higher number: the cautious reading)."""

    value: int


@dataclass(frozen=True)
class TimeOfDay:
    hour: int
    minute: int


@dataclass(frozen=True)
class Zone:
    """An IANA zone name ("Europe/Berlin"), "UTC", or a fixed offset stored as "UTC+05:30"."""

    name: str


@dataclass(frozen=True)
class ZoneAmbiguous:
    """A name that stands for several zones ("IST": India, Ireland or Israel): ask which one."""

    text: str
    candidates: tuple[str, ...]


@dataclass(frozen=True)
class Days:
    """A number of days ("3", "a week"); the engine checks its own range."""

    count: int


@dataclass(frozen=True)
class Doubt:
    """The person is unsure ("not sure", "maybe", "kind of").

    `pain` is True when the words might be pain ("feels weird", "uncomfortable", "what if it hurts",
    "hurts less than yesterday"): during an exercise the engine should ask whether anything hurts,
    never carry on silently."""

    pain: bool = False


@dataclass(frozen=True)
class Emergency:
    """An emergency sign reported as present: "saddle", "bladder_bowel", "both_legs" or "chest"."""

    sign: str


Answer = Choose | Pick | Score | TimeOfDay | Zone | ZoneAmbiguous | Days | Doubt
ANSWERS = (Choose, Pick, Score, TimeOfDay, Zone, ZoneAmbiguous, Days, Doubt)  # for isinstance()


@dataclass(frozen=True)
class Pain:
    """Pain reported and not denied: "pain", "idiom", "injury", "worsening", "sensation", "emoji", "condition".

    `answer` is the answer to the question on screen given in the same message, if any ("yes, it hurts
    at night", "about a 6, it aches"): before exercising the engine may take it, since describing pain
    there leads into triage; during an exercise the engine stops."""

    kind: str
    answer: Answer | None = None


@dataclass(frozen=True)
class Unsafe:
    """A request to refuse: the id of its entry in content/phrases.yaml `unsafe`."""

    request_id: str


@dataclass(frozen=True)
class Fine:
    """All is well ("all good", "no pain") where no option on screen says so."""


@dataclass(frozen=True)
class Stop:
    """ "stop", "quit", "enough for today" where the screen has no Stop option."""


@dataclass(frozen=True)
class Greeting:
    pass


@dataclass(frozen=True)
class Thanks:
    pass


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Unknown:
    pass


Reading = Answer | Emergency | Pain | Unsafe | Fine | Stop | Greeting | Thanks | Help | Unknown
