"""Understanding typed messages in the context of the screen on display (issue 12).

    reader = Reader(content.phrases, content.places)       # once per content
    reading = reader.read("my back is screaming", Expectation("choice", options, moment="exercise"))

`read` is pure: no I/O, no clock. See reader.py for the priority between meanings.
"""

from dialogs.understanding.lexicon import Lexicon, UnsafeRequest
from dialogs.understanding.reader import Reader
from dialogs.understanding.readings import (
    ANSWERS,
    Answer,
    Choose,
    Days,
    Doubt,
    Emergency,
    Expectation,
    Fine,
    Greeting,
    Help,
    Option,
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

__all__ = [
    "ANSWERS",
    "Answer",
    "Choose",
    "Days",
    "Doubt",
    "Emergency",
    "Expectation",
    "Fine",
    "Greeting",
    "Help",
    "Lexicon",
    "Option",
    "Pain",
    "Pick",
    "Reader",
    "Reading",
    "Score",
    "Stop",
    "Thanks",
    "TimeOfDay",
    "Unknown",
    "Unsafe",
    "UnsafeRequest",
    "Zone",
    "ZoneAmbiguous",
]
