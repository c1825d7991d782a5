"""Stored states of older releases, brought to the current shape (plain dicts in, plain dicts out).

Never edit a released step: add one. A user in the middle of a hold during an upgrade carries on: their
session, their hold timer and even the buttons of the message they are looking at keep working (the
screen number and the choice ids are the same). What cannot be carried over meaningfully (half-way
through the old 16-question triage, or half-way through setting a reminder) restarts that part safely.
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA_VERSION = 2

JsonDict = dict[str, Any]


def migrate(text: str) -> JsonDict:
    """The stored JSON as a dict of the current schema version. ValueError for a document from the future."""
    document: JsonDict | object = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError("a stored state must be a JSON object")
    version = document.get("schema", 1)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ValueError(f"state schema {version!r} is newer than this stretchbot understands ({SCHEMA_VERSION})")
    if version == 1:
        document = _from_v1(document)
    return document


# ---- version 1 (finished text in the state, one session dict, an untyped "flow") --------------------
_V1_OUTCOME = {"D": "clear", "A": "A", "B": "B", "C": "C"}


def _from_v1(old: JsonDict) -> JsonDict:
    profile = old.get("profile") or {}
    new_profile = {
        "last_screened_at": profile.get("last_triage_at"),
        "last_outcome": _V1_OUTCOME.get(profile.get("last_triage_level") or ""),
        "timezone": profile.get("timezone"),
        "reminder": profile.get("reminder"),
        "unreachable": bool(profile.get("unreachable", False)),
    }
    session, screen = _session_from_v1(old.get("session"))
    side, screen = _side_from_v1(old.get("flow"), screen)
    return {
        "schema": SCHEMA_VERSION,
        "screen_no": int(old.get("screen") or 0),
        "screen": screen,
        "sessions_started": int(old.get("sessions_started") or 0),
        "profile": new_profile,
        "session": session,
        "side": side,
    }


def _session_from_v1(old: JsonDict | None) -> tuple[JsonDict | None, JsonDict | None]:
    if not old:
        return None, None
    phase_name = old.get("phase")
    ruled_out = list(old.get("ruled_out") or [])
    common = {
        "id": old["id"],
        "started_at": old["started_at"],
        "ruled_out": ruled_out,
        "stretches_done": int(old.get("stretches_done") or 0),
        "hold_seconds_done": int(old.get("hold_seconds_done") or 0),
    }
    if phase_name in ("position", "holding", "checkin") and old.get("routine"):
        stage = {"position": "position", "holding": "hold", "checkin": "checkin"}[phase_name]
        phase = {
            "kind": "exercise",
            "routine": old["routine"],
            "stretch": int(old.get("stretch") or 0),
            "hold": int(old.get("hold") or 0),
            "stage": stage,
            "hold_started_at": old.get("hold_started_at"),
            "seq": int(old.get("hold_seq") or 0),
        }
        params = {"routine": old["routine"], "stretch": phase["stretch"], "audience": "self"}
        if stage != "checkin":
            params["hold"] = phase["hold"]
        screen = {"id": f"stretch.{stage}", "params": params}
        return {**common, "phase": phase}, screen
    if phase_name == "choose_routine":
        params = {"audience": "self", "ruled_out": ",".join(ruled_out), "ruled_out_by": ""}
        return {**common, "phase": {"kind": "choosing"}}, {"id": "routine.choose", "params": params}
    if phase_name == "quick_check":
        return {**common, "phase": {"kind": "screening", "stage": "quick"}}, {"id": "screening.quick", "params": {}}
    # the old one-by-one triage has no counterpart: start the grouped screen from its first group
    screen = {"id": "screening.group", "params": {"group": 0, "audience": "self"}}
    return {**common, "ruled_out": [], "phase": {"kind": "screening", "stage": "group"}}, screen


def _side_from_v1(flow: JsonDict | None, screen: JsonDict | None) -> tuple[JsonDict | None, JsonDict | None]:
    kind, on = (flow or {}).get("kind"), (flow or {}).get("on")
    if kind == "due" and isinstance(on, str):
        return {"kind": "due", "on": on}, {"id": "remind.due", "params": {}}
    if kind == "forget":
        return {"kind": "forget", "covered": screen}, {"id": "forget.confirm", "params": {}}
    # a reminder set-up half way through: closed (the user types /remind again); the session screen stays
    return None, screen
