"""Content: stretches, routines, triage, phrases and UI strings, loaded from YAML and validated.

Every file under content/ is parsed into the pydantic models below. Any problem, including a broken
cross-reference, becomes one ContentError line that names the file and the field, for example
`content/stretches.yaml: stretches[3].hold_seconds: input should be less than or equal to 120`.
"""
from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"

Level = Literal["A", "B", "C"]
SEED_FILE = re.compile(r"^\d{3}_[0-9a-f]{16}\.txt$")


class ContentError(Exception):
    """A content file is missing, unparsable or invalid. str() is one line naming file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- sources.yaml --------------------------------------------------------------------------------
class Source(_Strict):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    title: str = Field(min_length=3)
    seed: str | None = None  # a file name in shared/seeds/, when the source is a seed article
    guideline: str | None = None  # or a named guideline, e.g. "NICE NG59"

    @field_validator("seed")
    @classmethod
    def _seed_name(cls, value: str | None) -> str | None:
        if value is not None and not SEED_FILE.match(value):
            raise ValueError("must be a seed file name like 004_417b83b23482b636.txt")
        return value

    def model_post_init(self, _context) -> None:
        if not self.seed and not self.guideline:
            raise ValueError("needs a seed file name or a guideline name")


# --- stretches.yaml ------------------------------------------------------------------------------
class Stretch(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]{1,24}$")
    title: str = Field(min_length=3, max_length=60)
    position: str = Field(min_length=10, max_length=700)  # how to get into position
    during: str = Field(default="", max_length=300)  # what to do while holding (e.g. breathe)
    hold_seconds: int = Field(ge=5, le=120)
    sides: Literal["none", "both"] = "none"  # "both": one hold per side, left then right
    reps: int = Field(default=1, ge=1, le=5)
    cautions: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)  # e.g. floor, kneeling, twist, forward_bend
    source: str  # id from sources.yaml

    def holds(self) -> list[str]:
        """The holds of this stretch in order: side names ("left"/"right") or "" when sideless."""
        sides = ["left", "right"] if self.sides == "both" else [""]
        return [side for _ in range(self.reps) for side in sides]


# --- routines.yaml -------------------------------------------------------------------------------
class Routine(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]{1,16}$")
    title: str = Field(min_length=3, max_length=40)
    description: str = Field(min_length=3, max_length=300)
    partner: bool = False  # partner mode: someone helping a partner
    intro: str = Field(default="", max_length=1200)  # shown before the first stretch
    stretches: list[str] = Field(min_length=1)


# --- triage.yaml ---------------------------------------------------------------------------------
class Question(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]{1,24}$")
    text: str = Field(min_length=5, max_length=400)
    kind: Literal["yes_no", "score"] = "yes_no"
    level: Level | None = None  # referral level when flagged; None: not a red flag
    flag_at: int | None = Field(default=None, ge=0, le=10)  # score questions: flagged at >= this
    rules_out: list[str] = Field(default_factory=list)  # stretch tags ruled out by a "yes"
    source: str


class Referral(_Strict):
    level: Level
    text: str = Field(min_length=20)


class UnsafeRequest(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]{1,24}$")
    phrases: list[str] = Field(min_length=1)
    reply: str = Field(min_length=20)
    source: str


class Triage(_Strict):
    questions: list[Question] = Field(min_length=1)
    quick_check: str = Field(min_length=5)
    repeat_after_days: int = Field(default=30, ge=1, le=365)
    referrals: list[Referral]
    pain_stop: str = Field(min_length=20)  # pain during a routine (not a nerve word): stop, rest


class Phrases(_Strict):
    pain: list[str] = Field(min_length=1)  # typed anywhere: ends the session (pain_stop)
    emergency: list[str] = Field(min_length=1)  # nerve, bladder, bowel words: level A text
    yes: list[str] = Field(min_length=1)
    no: list[str] = Field(min_length=1)
    unsafe: list[UnsafeRequest] = Field(min_length=1)


# --- places.yaml ----------------------------------------------------------------------------------
def _known_zone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)") from None
    return name


class ZoneButton(_Strict):
    zone: str
    label: str = Field(min_length=1, max_length=30)

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _known_zone(value)


class Places(_Strict):
    """Time zones for reminders: the zones offered as buttons, and city names a user may type."""

    buttons: list[ZoneButton] = Field(min_length=1, max_length=10)
    cities: dict[str, str] = Field(min_length=1)

    @field_validator("cities")
    @classmethod
    def _cities(cls, value: dict[str, str]) -> dict[str, str]:
        for city, zone in value.items():
            if city != " ".join(city.lower().split()):
                raise ValueError(f"city {city!r} must be lower case with single spaces")
            _known_zone(zone)
        return value


# --- ui.yaml -------------------------------------------------------------------------------------
# Every string the engine says that is not a stretch, a question or a referral. The engine names
# these keys; the loader checks that each is present and uses only the placeholders it is given.
UI_KEYS: dict[str, set[str]] = {}


def ui_key(name: str, *placeholders: str) -> str:
    """Register a UI string key (with the placeholders the engine fills in) and return it."""
    UI_KEYS[name] = set(placeholders)
    return name


class Content(BaseModel):
    model_config = ConfigDict(frozen=True)

    sources: dict[str, Source]
    stretches: dict[str, Stretch]
    routines: dict[str, Routine]
    triage: Triage
    phrases: Phrases
    places: Places
    ui: dict[str, str]

    def referral(self, level: str) -> str:
        for referral in self.triage.referrals:
            if referral.level == level:
                return referral.text
        raise KeyError(level)

    def t(self, key: str, **values: object) -> str:
        """A UI string with its placeholders filled in."""
        return self.ui[key].format(**values)

    def summary(self) -> str:
        partner = sum(1 for r in self.routines.values() if r.partner)
        return (
            f"{len(self.stretches)} stretches, {len(self.routines)} routines ({partner} partner), "
            f"{len(self.triage.questions)} triage questions, {len(self.triage.referrals)} referral "
            f"levels, {len(self.phrases.pain)} pain and {len(self.phrases.emergency)} emergency "
            f"phrases, {len(self.phrases.unsafe)} unsafe-request replies, {len(self.ui)} UI strings, "
            f"{len(self.sources)} sources"
        )


# --- loading -------------------------------------------------------------------------------------
class _SourcesFile(_Strict):
    sources: list[Source] = Field(min_length=1)


class _StretchesFile(_Strict):
    stretches: list[Stretch] = Field(min_length=1)


class _RoutinesFile(_Strict):
    routines: list[Routine] = Field(min_length=2)


class _UiFile(BaseModel):
    # not stripped: some strings are fragments whose spaces matter (" (left side)")
    model_config = ConfigDict(extra="forbid")
    strings: dict[str, str]


FILES = {
    "sources.yaml": _SourcesFile,
    "stretches.yaml": _StretchesFile,
    "routines.yaml": _RoutinesFile,
    "triage.yaml": Triage,
    "phrases.yaml": Phrases,
    "places.yaml": Places,
    "ui.yaml": _UiFile,
}


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error: dict) -> str:
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if kind in ("greater_than_equal", "less_than_equal") and error["loc"]:
        return error["msg"].lower()
    if kind == "missing":
        if error["loc"] and error["loc"][-1] in ("yes", "no"):
            return 'is required (quote the key: a bare yes or no is read by YAML as true or false)'
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return error["msg"][0].lower() + error["msg"][1:]


def _parse(path: Path, label: str, model: type[BaseModel]) -> BaseModel:
    if not path.is_file():
        raise ContentError(f"{label}: file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ContentError(f"{label}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except UnicodeDecodeError:
        raise ContentError(f"{label}: not UTF-8 text") from None
    if not isinstance(raw, dict):
        raise ContentError(f"{label}: must be a mapping at the top level")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ContentError(f"{label}: {_where(error['loc']) or '(top level)'}: {_message(error)}") from None


def _unique(label: str, section: str, items: list) -> dict:
    out: dict = {}
    for index, item in enumerate(items):
        if item.id in out:
            raise ContentError(f"{label}: {section}[{index}].id: duplicate id {item.id!r}")
        out[item.id] = item
    return out


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def load_content(directory: Path | str | None = None) -> Content:
    """Load and validate every content file; raise ContentError with one precise line."""
    import dialogs.engine  # noqa: F401  (registers the UI string keys the engine and its flows use)

    directory = Path(directory) if directory else DEFAULT_CONTENT_DIR
    prefix = "content" if directory == DEFAULT_CONTENT_DIR else str(directory)
    parsed = {name: _parse(directory / name, f"{prefix}/{name}", model) for name, model in FILES.items()}

    def label(name: str) -> str:
        return f"{prefix}/{name}"

    sources = _unique(label("sources.yaml"), "sources", parsed["sources.yaml"].sources)
    stretches = _unique(label("stretches.yaml"), "stretches", parsed["stretches.yaml"].stretches)
    routines = _unique(label("routines.yaml"), "routines", parsed["routines.yaml"].routines)
    triage: Triage = parsed["triage.yaml"]
    phrases: Phrases = parsed["phrases.yaml"]
    ui = parsed["ui.yaml"].strings

    for i, stretch in enumerate(stretches.values()):
        if stretch.source not in sources:
            raise ContentError(f"{label('stretches.yaml')}: stretches[{i}].source: unknown source {stretch.source!r}")
    for i, routine in enumerate(routines.values()):
        for j, stretch_id in enumerate(routine.stretches):
            if stretch_id not in stretches:
                raise ContentError(
                    f"{label('routines.yaml')}: routines[{i}].stretches[{j}]: unknown stretch {stretch_id!r}"
                )
    if not any(not r.partner for r in routines.values()) or not any(r.partner for r in routines.values()):
        raise ContentError(f"{label('routines.yaml')}: routines: needs at least one solo and one partner routine")
    all_tags = {tag for s in stretches.values() for tag in s.tags}
    for i, question in enumerate(triage.questions):
        where = f"{label('triage.yaml')}: questions[{i}]"
        if question.source not in sources:
            raise ContentError(f"{where}.source: unknown source {question.source!r}")
        if question.kind == "score" and question.flag_at is None:
            raise ContentError(f"{where}.flag_at: is required for a score question")
        for tag in question.rules_out:
            if tag not in all_tags:
                raise ContentError(f"{where}.rules_out: no stretch has the tag {tag!r}")
        if question.level is None and not question.rules_out:
            raise ContentError(f"{where}.level: needs a level or rules_out (otherwise the answer does nothing)")
    _unique(label("triage.yaml"), "questions", triage.questions)
    _unique(label("phrases.yaml"), "unsafe", phrases.unsafe)
    levels: set[str] = set()
    for i, referral in enumerate(triage.referrals):
        if referral.level in levels:
            raise ContentError(f"{label('triage.yaml')}: referrals[{i}].level: duplicate level {referral.level}")
        levels.add(referral.level)
    for i, question in enumerate(triage.questions):
        if question.level and question.level not in levels:
            raise ContentError(f"{label('triage.yaml')}: questions[{i}].level: no referral text for level {question.level}")
    for level in ("A", "B", "C"):
        if level not in levels:
            raise ContentError(f"{label('triage.yaml')}: referrals: no referral text for level {level}")
    for i, unsafe in enumerate(phrases.unsafe):
        if unsafe.source not in sources:
            raise ContentError(f"{label('phrases.yaml')}: unsafe[{i}].source: unknown source {unsafe.source!r}")
    for key, allowed in UI_KEYS.items():
        if key not in ui:
            raise ContentError(f"{label('ui.yaml')}: strings.{key}: is required")
        extra = _placeholders(ui[key]) - allowed
        if extra:
            names = ", ".join(sorted(allowed)) or "none"
            raise ContentError(
                f"{label('ui.yaml')}: strings.{key}: unknown placeholder {{{sorted(extra)[0]}}} (allowed: {names})"
            )

    return Content(sources=sources, stretches=stretches, routines=routines, triage=triage, phrases=phrases,
                   places=parsed["places.yaml"], ui=ui)
