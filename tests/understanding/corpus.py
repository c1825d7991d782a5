"""The labelled corpus (tests/understanding/*.yaml) and how a reading is checked against its label.

Each YAML file is a list of groups: the screen the texts were typed on (and the topic of its
question), the corpus class (pain_now, emergency_present, negated, pain_before, answer, doubt, unsafe,
harmless), the expected reading (`expect`, and its `value`: a choice id, score, "HH:MM", zone name,
emergency sign, unsafe id, days; for pain the optional `answer` given with it). `pad: N` puts N
characters of ordinary chatter before each text. heldout.yaml was written before the lexicon,
heldout_2.yaml after the first tuning round; neither is tuned on, and their figures are reported apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from screens import expectation

from dialogs.understanding import (
    Choose,
    Days,
    Doubt,
    Emergency,
    Expectation,
    Fine,
    Greeting,
    Help,
    Pain,
    Pick,
    Reading,
    Score,
    Stop,
    Thanks,
    TimeOfDay,
    Unknown,
    Unsafe,
    Zone,
    ZoneAmbiguous,
)

HERE = Path(__file__).resolve().parent
HELDOUT = "heldout"  # heldout*.yaml
KINDS: dict[type, str] = {
    Choose: "choose",
    Pick: "pick",
    Score: "score",
    TimeOfDay: "time",
    Zone: "zone",
    ZoneAmbiguous: "zone_ambiguous",
    Days: "days",
    Doubt: "doubt",
    Emergency: "emergency",
    Pain: "pain",
    Unsafe: "unsafe",
    Fine: "fine",
    Stop: "stop",
    Greeting: "greeting",
    Thanks: "thanks",
    Help: "help",
    Unknown: "unknown",
}
STOPS = ("pain", "emergency")
# ordinary chatter with no trigger word in it, to bury a message deep in a long one
CHATTER = (
    "I was telling my sister about the weekend, we went to the market and bought apples and bread, "
    "then we walked the dog along the river and had tea with my neighbours. "
)


@dataclass(frozen=True)
class Case:
    file: str
    screen: str
    topic: str | None
    red_flag: bool | None
    cls: str
    expect: str
    value: str | None
    answer: str | None
    text: str

    @property
    def heldout(self) -> bool:
        return self.file.startswith(HELDOUT)

    @property
    def expectation(self) -> Expectation:
        return expectation(self.screen, self.topic, self.red_flag)

    @property
    def exercise(self) -> bool:
        return self.expectation.moment == "exercise"


def _text(value: object) -> str:
    if isinstance(value, bool):
        raise ValueError(f"{value!r}: quote yes/no in the corpus (YAML reads them as booleans)")
    return str(value)


def load(directory: Path = HERE) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(directory.glob("*.yaml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8")):
            pad = CHATTER * (int(group.get("pad", 0)) // len(CHATTER) + 1) if group.get("pad") else ""
            value, answer = group.get("value"), group.get("answer")
            for text in group["texts"]:
                cases.append(
                    Case(
                        path.name,
                        group["screen"],
                        group.get("topic"),
                        group.get("red_flag"),
                        group["class"],
                        group["expect"],
                        None if value is None else _text(value),
                        None if answer is None else _text(answer),
                        pad + _text(text),
                    )
                )
    return cases


def kind(reading: Reading) -> str:
    return KINDS[type(reading)]


def _value_of(reading: object) -> str | None:
    if isinstance(reading, Choose):
        return reading.choice_id
    if isinstance(reading, Score):
        return str(reading.value)
    if isinstance(reading, TimeOfDay):
        return f"{reading.hour:02d}:{reading.minute:02d}"
    if isinstance(reading, Zone):
        return reading.name
    if isinstance(reading, Days):
        return str(reading.count)
    if isinstance(reading, Pick):
        return str(reading.index)
    if isinstance(reading, Emergency):
        return reading.sign
    if isinstance(reading, Unsafe):
        return reading.request_id
    if isinstance(reading, Doubt):
        return "pain" if reading.pain else None
    return None


def agrees(reading: Reading, case: Case) -> bool:
    """Does the reading say what the case is labelled with?"""
    if kind(reading) != case.expect:
        return False
    if case.value is not None and _value_of(reading) != case.value:
        return False
    if isinstance(reading, Doubt) and case.value is None and reading.pain:
        return False  # plain doubt expected, not "might be pain"
    if case.answer is not None:
        return isinstance(reading, Pain) and _value_of(reading.answer) == case.answer
    return True


def false_stop(reading: Reading, case: Case) -> bool:
    """A stop the label does not call for: Pain or Emergency during an exercise, or Emergency anywhere."""
    if case.expect in STOPS:
        return False
    return isinstance(reading, Emergency) or (case.exercise and isinstance(reading, Pain))
