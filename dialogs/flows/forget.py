"""/forget: a confirmation over whatever is on screen; yes deletes everything, cancel brings it back."""

from __future__ import annotations

from dialogs.events import ForgetUser
from dialogs.flows.timers import DAILY_TIMER, HOLD_TIMER, SNOOZE_TIMER
from dialogs.state import AskIfHurts, ForgetConfirm, Screen, UserState
from dialogs.turn import Handoff, Next, Turn, line
from dialogs.understanding import Answer, Choose
from dialogs.weekly import WEEKLY_TIMER


def start(turn: Turn) -> None:
    side, screen = turn.state.side, turn.state.screen
    # remember the screen this covers (or the one an earlier overlay covered), so "Cancel" brings it back;
    # a reminder set-up or a reminder on screen is simply closed by it
    if isinstance(side, (AskIfHurts, ForgetConfirm)):
        covered = side.covered
    elif side is not None:
        covered = None
    else:
        covered = screen
    turn.state.side = ForgetConfirm(covered=covered)
    turn.show(Screen(id="forget.confirm"))


def answer(turn: Turn, reading: Answer) -> Next | None:
    side = turn.state.side
    if not isinstance(reading, Choose) or not isinstance(side, ForgetConfirm):
        return Next(Handoff.HINT)
    turn.state.side = None
    if reading.choice_id == "forget_yes":
        # the runtime deletes every row; the engine's own answer agrees: nothing is left
        turn.cancel(HOLD_TIMER, DAILY_TIMER, SNOOZE_TIMER, WEEKLY_TIMER)
        turn.actions.append(ForgetUser())
        turn.state = UserState(screen_no=turn.state.screen_no + 1)
        turn.say(line("forgotten"))
        return None
    if side.covered is None:
        turn.clear_screen()
        turn.say(line("forget_cancelled"))
    else:  # the covered screen comes back, with fresh buttons
        turn.show(side.covered, line("forget_cancelled"))
    return None
