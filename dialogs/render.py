"""One renderer for every platform: an engine message (lines + a screen) -> a MessageView.

Runs when a message is SENT, not when the engine decides it: the state and the outbox hold only ids and
parameters, so a content fix reaches a screen already on display, and a second language could be
rendered here from the same data. Adapters only map the view to their platform.

Line keys are ui strings (content/ui.yaml), or one of a few references into other content, written
with a leading "@": @referral {level}, @pain_stop, @safety_net, @unsafe {id}, @routine_intro {routine},
@advice {key}.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from dialogs.adaptation import Note
from dialogs.adaptation_text import note_text
from dialogs.content import Content, Stretch
from dialogs.events import Line, Notice, Say
from dialogs.schedule import describe
from dialogs.screens import Screens, offered_routines, split
from dialogs.state import Audience, Param, Screen
from dialogs.views import Attachment, ButtonView, MessageView, TextPart

Params = Mapping[str, Param]


class Renderer:
    def __init__(self, content: Content, screens: Screens | None = None) -> None:
        self.content = content
        self.screens = screens or Screens(content)
        self._bodies: dict[str, Callable[[Screen], list[TextPart]]] = {
            "home": lambda s: self._text("home"),
            "screening.group": self._group,
            "screening.item": self._item,
            "screening.score": self._score,
            "screening.kneeling": self._kneeling,
            "screening.quick": lambda s: self._text("quick_check"),
            "screening.after_pain": lambda s: self._text("after_pain"),
            "routine.choose": self._routines,
            "stretch.position": self._position,
            "stretch.hold": self._hold,
            "stretch.checkin": lambda s: self._text(f"checkin_{s.text('audience') or 'self'}"),
            "stretch.unsure": lambda s: self._text("unsure"),
            "session.done": lambda s: self._text("offer_reminder"),
            "screening.before": lambda s: self._text("score_before"),
            "session.score_after": lambda s: self._text("score_after"),
            "session.offer": lambda s: [TextPart(self._note(s.params))],
            "weekly.offer": lambda s: self._text("weekly_offer"),
            "weekly.day": lambda s: self._text("weekly_ask_day"),
            "weekly.zone": lambda s: self._text("remind_ask_zone"),
            "unsafe.offer": lambda s: self._text("unsafe_offer"),
            "remind.time": lambda s: self._text("remind_ask_time"),
            "remind.zone": lambda s: self._text("remind_ask_zone"),
            "remind.days": lambda s: self._text("remind_ask_days"),
            "remind.menu": self._remind_menu,
            "remind.pause": lambda s: self._text("remind_ask_pause", {"max": s.number("max")}),
            "remind.due": lambda s: self._text("reminder_due"),
            "forget.confirm": lambda s: self._text("forget_confirm"),
        }
        self._references: dict[str, Callable[[Params], str]] = {
            "@referral": lambda p: content.triage.referral(str(p.get("level"))),
            "@pain_stop": lambda p: content.triage.pain_stop,
            "@safety_net": lambda p: content.triage.safety_net,
            "@unsafe": lambda p: next(u.reply for u in content.phrases.unsafe if u.id == p.get("id")),
            "@routine_intro": lambda p: content.routines[str(p.get("routine"))].intro,
            "@note": self._note,
        }

    # ---- entry points -------------------------------------------------------------------------
    def render(self, say: Say) -> MessageView:
        parts = [part for line in say.lines for part in self.line(line)]
        buttons: tuple[ButtonView, ...] = ()
        typed = ""
        if say.screen is not None:
            parts += self._bodies[say.screen.id](say.screen)
            spec = self.screens.spec(say.screen)
            buttons = tuple(ButtonView(c.id, c.label, c.role, c.key) for c in spec.choices)
            typed = self.text(spec.typed) if spec.typed else ""
        return MessageView(kind=say.kind, parts=tuple(parts), buttons=buttons,
                           screen=say.number if buttons else None,
                           marker=self.content.wording.marker(say.kind), typed_hint=typed,
                           attachment=self._picture(say.screen))

    def _picture(self, screen: Screen | None) -> Attachment | None:
        """The stretch's picture goes with its position screen (unless the user turned pictures off). Only
        a reference here: the runtime finds (or draws) the file when it sends the message."""
        if screen is None or screen.id != "stretch.position" or not screen.param("pictures"):
            return None
        stretch_id = screen.text("stretch")
        pose = self.content.poses.get(stretch_id)
        if pose is None:
            return None
        return Attachment("animation" if pose.animated else "picture", stretch_id, alt=pose.alt, mime="image/png")

    def notice(self, notice: Notice) -> MessageView:
        return MessageView(kind="notice", parts=tuple(self.line(notice.line)))

    def line(self, line: Line) -> list[TextPart]:
        reference = self._references.get(line.key)
        text = reference(line.params) if reference else self.text(line.key, line.params)
        return [TextPart(text)] if text else []

    def text(self, key: str, params: Params | None = None) -> str:
        return self.content.wording.t(key, self._derived(params or {}))

    # ---- helpers --------------------------------------------------------------------------------
    def _note(self, params: Params) -> str:
        """An adaptation note: its key names a text of content/adaptation.yaml, the rest are its values."""
        values = {name: value for name, value in params.items() if name != "key" and isinstance(value, (str, int))}
        return note_text(Note(str(params.get("key")), values), self.content)

    def _text(self, key: str, params: Params | None = None) -> list[TextPart]:
        return [TextPart(self.text(key, params))]

    def _derived(self, params: Params) -> dict[str, Param]:
        """Values computed from others when rendered, in the user's words and zone: a time of day, a
        reminder's summary, a next occurrence, a duration, a weekday. (Uses the wording directly: these
        helper strings have no derived values of their own.)"""
        t = self.content.wording.t
        values = dict(params)
        zone = params.get("zone")
        if isinstance(params.get("hour"), int) and "time" not in values:
            values["time"] = t("time_format", {"hour": params["hour"], "minute": params.get("minute") or 0})
        if isinstance(params.get("next_at"), str) and isinstance(zone, str):
            values["next"] = describe(datetime.fromisoformat(str(params["next_at"])), zone)
        if isinstance(params.get("hour"), int) and isinstance(params.get("days"), str) and isinstance(zone, str):
            days = t("remind_every_day" if params["days"] == "daily" else "remind_on_weekdays")
            values["summary"] = t("remind_summary", {"time": values["time"], "days": days, "zone": zone})
        if isinstance(params.get("seconds"), int) and "duration" not in values:
            values["duration"] = self.duration(int(params["seconds"] or 0))
        if isinstance(params.get("weekday"), int):
            values["weekday"] = t(f"weekday_{params['weekday']}")
        return values

    def duration(self, seconds: int) -> str:
        """"about 50 seconds", "about 1 minute", "about 4 minutes"."""
        wording = self.content.wording
        if seconds < 60:
            return wording.t("duration_seconds", {"seconds": max(1, seconds)})
        return wording.t("duration_minutes", {"minutes": round(seconds / 60)})

    # ---- screening ------------------------------------------------------------------------------
    def _group(self, screen: Screen) -> list[TextPart]:
        triage, audience = self.content.triage, _audience(screen)
        group = triage.groups[screen.number("group")]
        questions = [triage.question(item) for item in group.items]
        parts = [TextPart(self.text(f"group_ask_{audience}"), "strong")]
        if screen.param("explained"):
            parts = [TextPart(self.text("doubt_group_intro"))]
            parts += [TextPart(f"{q.line.for_(audience) if q.line else ''}: {q.explain}", bullet=True)
                      for q in questions]
            return [*parts, TextPart(self.text("doubt_end")), TextPart(self.text(f"group_ask_{audience}"), "strong")]
        return parts + [TextPart(q.line.for_(audience) if q.line else "", bullet=True) for q in questions]

    def _item(self, screen: Screen) -> list[TextPart]:
        question = self.content.triage.question(screen.text("question"))
        return self._explained(screen, question.text.for_(_audience(screen)), question.explain)

    def _score(self, screen: Screen) -> list[TextPart]:
        score = self.content.triage.score
        return self._explained(screen, score.text.for_(_audience(screen)), score.explain)

    def _kneeling(self, screen: Screen) -> list[TextPart]:
        kneeling = self.content.triage.kneeling
        return self._explained(screen, kneeling.text.for_(_audience(screen)), kneeling.explain)

    def _explained(self, screen: Screen, question: str, explain: str) -> list[TextPart]:
        if not screen.param("explained"):
            return [TextPart(question, "strong")]
        return [TextPart(self.text("doubt_intro")), TextPart(explain), TextPart(self.text("doubt_end")),
                TextPart(question, "strong")]

    # ---- routines and stretches -----------------------------------------------------------------
    def _routines(self, screen: Screen) -> list[TextPart]:
        routines = offered_routines(self.content, split(screen.text("ruled_out")), _audience(screen))
        head = "choose_routine_gentle" if screen.param("gentle") else "choose_routine"
        parts = [TextPart(self.text(head))]
        parts += [TextPart(self.text("routine_line", {"title": r.title, "description": r.description}), bullet=True)
                  for r in routines]
        parts += [TextPart(self.text(f"ruled_out_{question}")) for question in split(screen.text("ruled_out_by"))]
        return parts

    def _stretch(self, screen: Screen) -> Stretch:
        return self.content.stretches[screen.text("stretch")]

    def _position(self, screen: Screen) -> list[TextPart]:
        stretch = self._stretch(screen)
        holds = stretch.holds()
        hold = screen.number("hold")
        side = holds[hold] if hold < len(holds) else ""
        title = self.text("position_title", {"number": screen.number("number"), "count": screen.number("count"),
                                             "title": stretch.title,
                                             "side": self.text(f"side_{side}") if side else ""})
        parts = [TextPart(title, "title")]
        if stretch.reps > 1:
            per_round = len(holds) // stretch.reps
            parts.append(TextPart(self.text("round", {"number": hold // per_round + 1, "count": stretch.reps})))
        # the second side needs only what changes; the whole position text was shown for the first
        parts.append(TextPart(stretch.other_side if side == "right" else stretch.position))
        if stretch.cautions and side != "right":
            parts.append(TextPart(" · ".join(stretch.cautions)))
        parts.append(TextPart(self.text("press_ready")))
        return parts

    def _hold(self, screen: Screen) -> list[TextPart]:
        stretch = self._stretch(screen)
        during, seconds = stretch.during, screen.number("seconds") or stretch.hold_seconds
        if stretch.mode == "reps":
            text = self.text("reps_start", {"count": stretch.count, "during": during,
                                            "duration": self.duration(seconds)})
        elif stretch.mode == "duration":
            text = self.text("duration_start", {"during": during, "duration": self.duration(seconds)})
        else:
            text = self.text("hold_start", {"seconds": seconds, "during": during})
        return [TextPart(text.strip())]

    # ---- reminders ------------------------------------------------------------------------------
    def _remind_menu(self, screen: Screen) -> list[TextPart]:
        key = {"active": "remind_status", "paused": "remind_status_paused"}.get(screen.text("status"),
                                                                                "remind_status_stopped")
        return self._text(key, screen.params)


def _audience(screen: Screen) -> Audience:
    return "partner" if screen.text("audience") == "partner" else "self"
