"""The home menu, the end-of-session offer and the offer after a refused unsafe request."""

from __future__ import annotations

from dialogs.events import Line
from dialogs.state import Screen
from dialogs.turn import Handoff, Next, Turn, line
from dialogs.understanding import Answer, Choose

_HOME_CHOICES = {"start": Handoff.BEGIN, "partner": Handoff.BEGIN_PARTNER, "remind": Handoff.REMIND,
                 "help": Handoff.HELP, "progress": Handoff.PROGRESS}


def show(turn: Turn, *lines: Line) -> None:
    turn.show(Screen(id="home"), *lines)


def answer(turn: Turn, reading: Answer) -> Next | None:
    screen = turn.state.screen
    if screen is None or not isinstance(reading, Choose):
        return Next(Handoff.HINT)
    choice = reading.choice_id
    if screen.id == "home":
        return Next(_HOME_CHOICES.get(choice, Handoff.HINT))
    # "unsafe.offer": a gentle routine instead?
    if choice == "yes":
        return Next(Handoff.BEGIN)
    turn.clear_screen()
    turn.say(line("goodbye"))
    return None
