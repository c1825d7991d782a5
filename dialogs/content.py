"""Content: stretches, routines, triage, phrases and UI strings, loaded from YAML and validated.

Every file under content/ is parsed into the pydantic models below. Any problem, including a broken
cross-reference, becomes one ContentError line that names the file and the field, for example
`content/stretches.yaml: stretches[3].hold_seconds: input should be less than or equal to 120`.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from dialogs.adaptation_rules import AdaptationRules
from dialogs.poses import Pose, PosesFile, poses_problem
from dialogs.progress_words import ProgressWords
from dialogs.triage import Triage, check_triage
from dialogs.understanding.lexicon import Lexicon
from dialogs.wording import Wording, check_wording

DEFAULT_CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"

SEED_FILE = re.compile(r"^\d{3}_[0-9a-f]{16}\.txt$")


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


ModelT = TypeVar("ModelT", bound=BaseModel)
ItemT = TypeVar("ItemT", bound=_HasId)


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

    def model_post_init(self, _context: object) -> None:
        if not self.seed and not self.guideline:
            raise ValueError("needs a seed file name or a guideline name")


# --- stretches.yaml ------------------------------------------------------------------------------
class Stretch(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]{1,24}$")
    title: str = Field(min_length=3, max_length=60)
    position: str = Field(min_length=10, max_length=700)  # how to get into position
    during: str = Field(default="", max_length=300)  # what to do while holding (e.g. breathe)
    hold_seconds: int = Field(ge=5, le=120)  # the hold, or about how long the repetitions / activity take
    mode: Literal["hold", "reps", "duration"] = "hold"  # held still, slow repetitions, or an activity
    count: int | None = Field(default=None, ge=2, le=30)  # repetitions, for mode "reps"
    sides: Literal["none", "both"] = "none"  # "both": one hold per side, left then right
    other_side: str = Field(default="", max_length=300)  # all the right side needs to say (sides: both)
    reps: int = Field(default=1, ge=1, le=5)  # rounds of the whole stretch (each side once per round)
    cautions: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)  # e.g. floor, kneeling, twist, forward_bend
    source: str  # id from sources.yaml

    def model_post_init(self, _context: object) -> None:
        if self.mode == "reps" and self.count is None:
            raise ValueError("count is required for mode reps (how many slow repetitions)")
        if self.sides == "both" and not self.other_side:
            raise ValueError("other_side is required for sides: both (what the second side needs to say)")

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


# --- phrases.yaml: the lexicon of dialogs/understanding (its Lexicon model is imported above) -------


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


def _typed_name(name: str, what: str) -> None:
    if name != " ".join(name.lower().split()) or not name.isascii():
        raise ValueError(f"{what} {name!r} must be lower case without accents, with single spaces")


class Places(_Strict):
    """Time zones for reminders: the zones offered as buttons, and names a user may type for a zone."""

    buttons: list[ZoneButton] = Field(min_length=1, max_length=10)
    cities: dict[str, str] = Field(min_length=1)
    abbreviations: dict[str, str] = Field(default_factory=dict)  # "est": America/New_York (with DST)
    ambiguous: dict[str, list[str]] = Field(default_factory=dict)  # "ist": India, Ireland, Israel: ask

    @field_validator("cities", "abbreviations")
    @classmethod
    def _names(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        earlier = set(info.data.get("cities") or ())
        for name, zone in value.items():
            _typed_name(name, "name")
            if info.field_name != "cities" and name in earlier:
                raise ValueError(f"{name!r} is already in cities")
            _known_zone(zone)
        return value

    @field_validator("ambiguous")
    @classmethod
    def _ambiguous(cls, value: dict[str, list[str]], info: ValidationInfo) -> dict[str, list[str]]:
        earlier = set(info.data.get("cities") or ()) | set(info.data.get("abbreviations") or ())
        for name, zones in value.items():
            _typed_name(name, "name")
            if name in earlier:
                raise ValueError(f"{name!r} is already in cities or abbreviations")
            if len(set(zones)) < 2:
                raise ValueError(f"{name!r} needs at least two zones (otherwise put it in abbreviations)")
            for zone in zones:
                _known_zone(zone)
        return value


class Content(BaseModel):
    model_config = ConfigDict(frozen=True)

    sources: dict[str, Source]
    stretches: dict[str, Stretch]
    routines: dict[str, Routine]
    triage: Triage
    phrases: Lexicon
    places: Places
    wording: Wording
    progress: ProgressWords  # progress.yaml: /progress, its chart, the weekly summary, the back score rule
    adaptation: AdaptationRules  # adaptation.yaml: how routines adapt to how each stretch felt
    poses: dict[str, Pose] = Field(default_factory=dict)  # stretch id -> its picture (poses.yaml)

    def t(self, key: str, **values: str | int | bool | None) -> str:
        """A UI string with its placeholders filled in."""
        return self.wording.t(key, values)

    def referral(self, level: str) -> str:
        return self.triage.referral(level)

    def summary(self) -> str:
        partner = sum(1 for r in self.routines.values() if r.partner)
        questions = len(self.triage.questions) + 2  # the pain score and the kneeling question
        return (
            f"{len(self.stretches)} stretches, {len(self.routines)} routines ({partner} partner), "
            f"{questions} screening questions in {len(self.triage.groups)} groups plus 2 single questions "
            f"({self.triage.answers_needed()} answers with no flag), {len(self.triage.referrals)} referral "
            f"levels, {sum(len(p) for p in self.phrases.words.values())} lexicon phrases in "
            f"{len(self.phrases.words)} word classes and {len(self.phrases.rules)} rules, "
            f"{len(self.phrases.unsafe)} unsafe-request replies, {len(self.wording.strings)} UI strings, "
            f"{len(self.sources)} sources"
        )


# --- loading -------------------------------------------------------------------------------------
class _SourcesFile(_Strict):
    sources: list[Source] = Field(min_length=1)


class _StretchesFile(_Strict):
    stretches: list[Stretch] = Field(min_length=1)


class _RoutinesFile(_Strict):
    routines: list[Routine] = Field(min_length=2)


FILES: dict[str, type[BaseModel]] = {
    "sources.yaml": _SourcesFile,
    "stretches.yaml": _StretchesFile,
    "routines.yaml": _RoutinesFile,
    "triage.yaml": Triage,
    "phrases.yaml": Lexicon,
    "places.yaml": Places,
    "ui.yaml": Wording,  # not stripped: some strings are fragments whose spaces matter (", left side")
    "progress.yaml": ProgressWords,
    "adaptation.yaml": AdaptationRules,
    "poses.yaml": PosesFile,
}
COMMANDS = ("start", "stretch", "progress", "remind", "stop", "help", "pictures", "mydata", "forget")  # answered


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error: Any) -> str:
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if kind in ("greater_than_equal", "less_than_equal") and error["loc"]:
        return str(error["msg"]).lower()
    if kind == "missing":
        if error["loc"] and error["loc"][-1] in ("yes", "no"):
            return "is required (quote the key: a bare yes or no is read by YAML as true or false)"
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    message = str(error["msg"])
    return message[0].lower() + message[1:]


def _parse(path: Path, label: str, model: type[ModelT]) -> ModelT:
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
        raise ContentError(f"{label}: {_where(tuple(error['loc'])) or '(top level)'}: {_message(error)}") from None


def _unique(label: str, section: str, items: list[ItemT]) -> dict[str, ItemT]:
    out: dict[str, ItemT] = {}
    for index, item in enumerate(items):
        if item.id in out:
            raise ContentError(f"{label}: {section}[{index}].id: duplicate id {item.id!r}")
        out[item.id] = item
    return out


def load_content(directory: Path | str | None = None) -> Content:
    """Load and validate every content file; raise ContentError with one precise line."""
    directory = Path(directory) if directory else DEFAULT_CONTENT_DIR
    prefix = "content" if directory == DEFAULT_CONTENT_DIR else str(directory)

    def label(name: str) -> str:
        return f"{prefix}/{name}"

    sources = _unique(label("sources.yaml"), "sources",
                      _parse(directory / "sources.yaml", label("sources.yaml"), _SourcesFile).sources)
    stretches = _unique(label("stretches.yaml"), "stretches",
                        _parse(directory / "stretches.yaml", label("stretches.yaml"), _StretchesFile).stretches)
    routines = _unique(label("routines.yaml"), "routines",
                       _parse(directory / "routines.yaml", label("routines.yaml"), _RoutinesFile).routines)
    triage = _parse(directory / "triage.yaml", label("triage.yaml"), Triage)
    phrases = _parse(directory / "phrases.yaml", label("phrases.yaml"), Lexicon)
    places = _parse(directory / "places.yaml", label("places.yaml"), Places)
    wording = _parse(directory / "ui.yaml", label("ui.yaml"), Wording)

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
    problem = check_wording(wording, label("ui.yaml"), COMMANDS) or check_triage(
        triage, label("triage.yaml"), set(sources), all_tags, set(wording.strings))
    if problem:
        raise ContentError(problem)
    for question in [*triage.questions, triage.kneeling]:
        if question.rules_out and f"ruled_out_{question.id}" not in wording.strings:
            raise ContentError(f"{label('ui.yaml')}: strings.ruled_out_{question.id}: is required "
                               f"(the note saying why {question.id} leaves routines out)")
    for i, unsafe in enumerate(phrases.unsafe):
        if unsafe.source not in sources:
            raise ContentError(f"{label('phrases.yaml')}: unsafe[{i}].source: unknown source {unsafe.source!r}")
    _unique(label("phrases.yaml"), "unsafe", phrases.unsafe)

    progress = _parse(directory / "progress.yaml", label("progress.yaml"), ProgressWords)
    adaptation = _parse(directory / "adaptation.yaml", label("adaptation.yaml"), AdaptationRules)
    score = triage.score
    if progress.scores.source not in sources:
        raise ContentError(f"{label('progress.yaml')}: scores.source: unknown source {progress.scores.source!r}")
    if progress.scores.refer_at != score.flag_at:
        raise ContentError(f"{label('progress.yaml')}: scores.refer_at: must equal the triage pain score's "
                           f"flag_at ({score.flag_at}), so both refer alike")
    problem = adaptation.problems(stretches, routines, sources)
    if problem:
        raise ContentError(f"{label('adaptation.yaml')}: {problem}")

    poses = _parse(directory / "poses.yaml", label("poses.yaml"), PosesFile).poses
    pose_problem = poses_problem(poses, {s.id: s.tags for s in stretches.values()})
    if pose_problem is not None:
        raise ContentError(f"{label('poses.yaml')}: {pose_problem[0]}: {pose_problem[1]}")

    return Content(sources=sources, stretches=stretches, routines=routines, triage=triage, phrases=phrases,
                   places=places, wording=wording, progress=progress, adaptation=adaptation,
                   poses={pose.stretch: pose for pose in poses})
