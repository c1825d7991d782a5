"""/mydata in plain words: what is stored about the user, as lines of content (rendered like any message),
and the export file without the internals (no screen numbers, versions or live credentials).

Pure: the runtime loads the export from storage (Storage.export_user) and hands it here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dialogs.events import Line

Export = Mapping[str, Any]
OUTCOME_KEYS = {"clear": "mydata_outcome_clear", "A": "mydata_outcome_referral", "B": "mydata_outcome_referral",
                "C": "mydata_outcome_referral", "pain": "mydata_outcome_pain"}
PROFILE_KEEPS = ("timezone", "reminder", "weekly", "restrictions", "pictures", "last_screened_at", "last_outcome",
                 "sessions_completed", "tracks_score", "adaptation")


def _day(value: object) -> str:
    """An ISO time as its date ("2026-03-02"): enough for people, and free of the zone question."""
    try:
        return datetime.fromisoformat(str(value)).date().isoformat()
    except ValueError:
        return str(value)


def plain_lines(export: Export) -> list[Line]:
    """What stretchbot stores about someone, in a few plain sentences."""
    profile = export.get("profile")
    history = list(export.get("history") or [])
    if profile is None and not history:
        return [Line("mydata_nothing")]
    settings = ((export.get("state") or {}).get("profile")) or {}
    lines = [Line("mydata_since", {"since": _day((profile or {}).get("created_at", ""))})]
    outcome = settings.get("last_outcome")
    if outcome in OUTCOME_KEYS and settings.get("last_screened_at"):
        lines.append(Line(OUTCOME_KEYS[outcome], {"when": _day(settings["last_screened_at"]), "level": outcome}))
    if settings.get("restrictions"):
        lines.append(Line("mydata_restrictions", {"tags": ", ".join(settings["restrictions"])}))
    reminder = settings.get("reminder")
    if reminder:
        lines.append(Line("mydata_reminder", {"hour": reminder.get("hour"), "minute": reminder.get("minute"),
                                              "days": reminder.get("days"), "zone": reminder.get("timezone")}))
    weekly = settings.get("weekly")
    if weekly:
        lines.append(Line("mydata_weekly", {"weekday": weekly.get("weekday"), "hour": weekly.get("hour"),
                                            "minute": weekly.get("minute"), "zone": weekly.get("timezone")}))
    completed = sum(1 for row in history if row.get("outcome") == "completed")
    lines.append(Line("mydata_sessions", {"count": len(history), "completed": completed}))
    ratings = len(export.get("feedback") or [])
    if ratings:
        lines.append(Line("mydata_ratings", {"count": ratings}))
    if settings.get("pictures") is False:
        lines.append(Line("mydata_pictures_off"))
    return lines


def export_file(export: Export) -> dict[str, Any]:
    """The export as a file to keep: everything about the person, none of stretchbot's internals."""
    profile = dict(export.get("profile") or {})
    address = dict(profile.pop("address", None) or {})
    address.pop("token", None)  # a live credential for 15 minutes: not something to hand around in a file
    address.pop("token_expires_at", None)
    state = export.get("state") or {}
    settings = {name: value for name, value in (state.get("profile") or {}).items() if name in PROFILE_KEEPS}
    return {
        "profile": {**profile, "address": address} if profile else None,
        "settings": settings,
        "session_in_progress": state.get("session") is not None,
        "history": export.get("history") or [],
        "feedback": export.get("feedback") or [],
        "scheduled": [{"what": timer.get("name"), "when": timer.get("due")} for timer in export.get("timers") or []],
        "queued_messages": [_message(entry) for entry in export.get("queued_messages") or []],
        "undelivered_messages": [_message(entry) for entry in export.get("undelivered_messages") or []],
    }


MESSAGE_INTERNALS = ("address", "user", "reply", "first")  # where and how to send: tokens and ids, not content


def _message(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A message still queued (or never delivered): what it says, without where-to-send internals."""
    body = entry.get("message") or {}
    said = {name: value for name, value in body.items() if name not in MESSAGE_INTERNALS}
    return {**entry, "message": said}
