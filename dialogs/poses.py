"""Poses: each stretch's picture as data (content/poses.yaml), and the figure geometry drawn from it.

A pose is a small scene on a frame FRAME_WIDTH x FRAME_HEIGHT units, y pointing up (0 = bottom edge):
one or two figures, a floor line, a mat, arrows for the movement, and for the massage the zones where
the hands go. Figures are given by angles, not joint positions (forward kinematics), so every limb keeps
its length in every keyframe and in every in-between frame of an animation, which is interpolated by
angle. Angles are degrees counter-clockwise from pointing right (0 right, 90 up, 180 left, -90 down).

Pure: models and arithmetic only. The renderer (bot/pictures) draws what `skeleton` returns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FRAME_WIDTH = 100.0
FRAME_HEIGHT = 75.0

# Body proportions in frame units: one grown-up, about 74 units from heel to crown.
NECK = 2.0
HEAD_RADIUS = 5.4
TORSO = 22.5
UPPER_ARM = 12.0
FOREARM = 11.5
THIGH = 17.5
SHIN = 16.5
FOOT = 5.2
# Seen from above, the torso is broad: shoulders and hips sit this far either side of the spine.
SHOULDER_HALF_WIDTH = 6.0
HIP_HALF_WIDTH = 4.2
# Drawn half-thickness of each part (the renderer uses these too), so the frame check covers the ink.
HALF_WIDTH = {"torso": 5.0, "torso_above": 7.0, "arm": 2.3, "leg": 3.1, "hand": 2.6, "foot": 2.0}

Point = tuple[float, float]
Box = tuple[float, float, float, float]  # x0, y0, x1, y1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class Limb(_Strict):
    """An arm or a leg: the directions of its two segments (and for a leg optionally of the foot), or
    the point its hand or ankle reaches (`to`), the elbow or knee bending to the `joint_side` given.

    In YAML the short form `[upper, lower]` or `[thigh, shin, foot]` is accepted; `reach` (0.2-1)
    shortens the limb when it points towards or away from the viewer."""

    angles: tuple[float, float] | None = None
    to: Point | None = None
    joint_side: Literal["left", "right"] = "left"  # elbow or knee: left or right of the line root -> `to`
    end: float | None = None  # direction of the foot (legs only)
    reach: float = Field(default=1.0, ge=0.2, le=1.0)

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            if len(value) not in (2, 3):
                raise ValueError("must be [upper, lower] or [upper, lower, foot] angles in degrees")
            return {"angles": tuple(value[:2]), "end": value[2] if len(value) == 3 else None}
        return value

    @model_validator(mode="after")
    def _angles_or_target(self) -> Limb:
        if (self.angles is None) == (self.to is None):
            raise ValueError("needs either angles or `to` (the point the hand or ankle reaches), not both")
        return self


class Figure(_Strict):
    """One person. `who` picks the colour: "you" is the reader (in partner stretches, the helper)."""

    who: Literal["you", "partner"] = "you"
    hips: Point  # the pelvis, in frame units
    torso: float  # direction from the pelvis to the base of the neck
    bend: float = Field(default=0.0, ge=-8.0, le=8.0)  # mid-back offset from straight; + bows it counter-clockwise
    reach: float = Field(default=1.0, ge=0.2, le=1.0)  # torso foreshortening (seen from above, sitting up)
    head: float = Field(default=0.0, ge=-90.0, le=90.0)  # head direction relative to the end of the torso
    arms: tuple[Limb, Limb]  # side view: near arm first (drawn in front); from above: the counter-clockwise side first
    legs: tuple[Limb, Limb]

    @model_validator(mode="after")
    def _arms_have_no_feet(self) -> Figure:
        if any(arm.end is not None for arm in self.arms):
            raise ValueError("arms take two angles (upper arm, forearm), not three")
        return self


class Arrow(_Strict):
    """The direction of the movement: straight (two points) or curved through a middle point (three)."""

    points: list[Point] = Field(min_length=2, max_length=3)


class Label(_Strict):
    text: str = Field(min_length=1, max_length=40)
    at: Point  # where the top-left corner of the text goes
    tone: Literal["plain", "here", "avoid"] = "plain"


class Keyframe(_Strict):
    figures: list[Figure] = Field(min_length=1, max_length=2)
    arrows: list[Arrow] = Field(default_factory=list, max_length=4)
    caption: str = Field(default="", max_length=40)  # e.g. "Breathe in: arch"


class Pose(_Strict):
    stretch: str = Field(pattern=r"^[a-z0-9_]{1,24}$")
    view: Literal["side", "above"] = "side"
    alt: str = Field(min_length=20, max_length=400)  # what the picture shows, for screen readers
    floor: float | None = None  # y of the floor line (side view)
    mat: Box | None = None  # a mat or a bed under the figures
    zones: list[Box] = Field(default_factory=list, max_length=4)  # where the hands go (ellipses)
    avoid: list[list[Point]] = Field(default_factory=list, max_length=2)  # lines to keep off (the spine)
    labels: list[Label] = Field(default_factory=list, max_length=4)
    keyframes: list[Keyframe] = Field(min_length=1, max_length=2)

    @model_validator(mode="after")
    def _keyframes_match(self) -> Pose:
        if len(self.keyframes) == 2:
            first, second = ([f.who for f in k.figures] for k in self.keyframes)
            if first != second:
                raise ValueError("both keyframes need the same figures in the same order (to move between them)")
        return self

    @property
    def animated(self) -> bool:
        return len(self.keyframes) == 2


class PosesFile(_Strict):
    poses: list[Pose] = Field(min_length=1)


# --- geometry --------------------------------------------------------------------------------------
def _towards(start: Point, degrees: float, length: float) -> Point:
    radians = math.radians(degrees)
    return (start[0] + length * math.cos(radians), start[1] + length * math.sin(radians))


def _bezier(p0: Point, control: Point, p2: Point, t: float) -> Point:
    u = 1.0 - t
    return (
        u * u * p0[0] + 2 * u * t * control[0] + t * t * p2[0],
        u * u * p0[1] + 2 * u * t * control[1] + t * t * p2[1],
    )


def _direction(start: Point, end: Point) -> float:
    return math.degrees(math.atan2(end[1] - start[1], end[0] - start[0]))


@dataclass(frozen=True)
class Chain:
    """A drawn limb: root (shoulder or hip), middle joint (elbow or knee), end (hand or ankle), toe."""

    root: Point
    middle: Point
    end: Point
    toe: Point | None
    short_by: float = 0.0  # how far a `to` target lies beyond the limb's reach (0: reached)


@dataclass(frozen=True)
class Skeleton:
    who: str
    spine: tuple[Point, ...]  # the torso's centre line from the pelvis to the base of the neck
    head: Point  # centre of the head
    arms: tuple[Chain, Chain]
    legs: tuple[Chain, Chain]
    torso_half_width: float

    def extents(self) -> list[tuple[str, Point, float]]:
        """Every drawn joint with the half-thickness of the ink around it: (name, point, radius)."""
        out: list[tuple[str, Point, float]] = [("head", self.head, HEAD_RADIUS)]
        out += [("back", point, self.torso_half_width) for point in self.spine]
        for side, arm in zip(("near", "far"), self.arms, strict=True):
            out += [(f"{side} elbow", arm.middle, HALF_WIDTH["arm"]), (f"{side} hand", arm.end, HALF_WIDTH["hand"])]
        for side, leg in zip(("near", "far"), self.legs, strict=True):
            out += [(f"{side} knee", leg.middle, HALF_WIDTH["leg"]), (f"{side} ankle", leg.end, HALF_WIDTH["leg"])]
            if leg.toe is not None:
                out.append((f"{side} toe", leg.toe, HALF_WIDTH["foot"]))
        return out


SPINE_STEPS = 12


def _chain(root: Point, limb: Limb, upper: float, lower: float, foot: float | None) -> Chain:
    upper, lower = upper * limb.reach, lower * limb.reach
    short_by = 0.0
    if limb.to is not None:
        # two-segment reach (law of cosines): the angle at the root between the target and the upper segment
        distance = math.dist(root, limb.to)
        short_by = max(0.0, distance - upper - lower)
        distance = min(max(distance, abs(upper - lower) + 1e-6, 1e-6), upper + lower)
        cosine = (upper * upper + distance * distance - lower * lower) / (2 * upper * distance)
        opening = math.degrees(math.acos(max(-1.0, min(1.0, cosine))))
        first = _direction(root, limb.to) + (opening if limb.joint_side == "left" else -opening)
        middle = _towards(root, first, upper)
        tip = _towards(middle, _direction(middle, limb.to), lower)
    else:
        assert limb.angles is not None  # the model allows angles or `to`, never neither
        middle = _towards(root, limb.angles[0], upper)
        tip = _towards(middle, limb.angles[1], lower)
    toe = _towards(tip, limb.end, foot) if limb.end is not None and foot is not None else None
    return Chain(root, middle, tip, toe, short_by)


def skeleton(figure: Figure, view: Literal["side", "above"]) -> Skeleton:
    """Joint positions of a figure in frame units (forward kinematics from the pelvis)."""
    pelvis = figure.hips
    neck = _towards(pelvis, figure.torso, TORSO * figure.reach)
    middle = ((pelvis[0] + neck[0]) / 2, (pelvis[1] + neck[1]) / 2)
    # a quadratic curve whose midpoint sits `bend` units off the straight line needs its control point 2x off
    control = _towards(middle, figure.torso + 90.0, 2.0 * figure.bend)
    spine = tuple(_bezier(pelvis, control, neck, i / SPINE_STEPS) for i in range(SPINE_STEPS + 1))
    top = _direction(control, neck) if figure.bend else figure.torso
    head = _towards(neck, top + figure.head, NECK + HEAD_RADIUS)
    shoulder = _bezier(pelvis, control, neck, 0.9)
    if view == "above":
        # from above, the first arm and leg are on the counter-clockwise side of the torso's direction
        shoulders = (
            _towards(shoulder, top + 90, SHOULDER_HALF_WIDTH),
            _towards(shoulder, top - 90, SHOULDER_HALF_WIDTH),
        )
        hips = (
            _towards(pelvis, figure.torso + 90, HIP_HALF_WIDTH),
            _towards(pelvis, figure.torso - 90, HIP_HALF_WIDTH),
        )
    else:
        shoulders = (shoulder, shoulder)
        hips = (pelvis, pelvis)
    arms = (
        _chain(shoulders[0], figure.arms[0], UPPER_ARM, FOREARM, None),
        _chain(shoulders[1], figure.arms[1], UPPER_ARM, FOREARM, None),
    )
    legs = (
        _chain(hips[0], figure.legs[0], THIGH, SHIN, FOOT),
        _chain(hips[1], figure.legs[1], THIGH, SHIN, FOOT),
    )
    half = HALF_WIDTH["torso_above"] if view == "above" else HALF_WIDTH["torso"]
    return Skeleton(figure.who, spine, head, arms, legs, half)


def _as_angles(limb: Limb, chain: Chain) -> Limb:
    angles = (_direction(chain.root, chain.middle), _direction(chain.middle, chain.end))
    return Limb(angles=angles, end=limb.end, reach=limb.reach)


def resolved(figure: Figure, view: Literal["side", "above"]) -> Figure:
    """The same figure with every `to` limb turned into angles (so it can be interpolated)."""
    body = skeleton(figure, view)
    arms = (_as_angles(figure.arms[0], body.arms[0]), _as_angles(figure.arms[1], body.arms[1]))
    legs = (_as_angles(figure.legs[0], body.legs[0]), _as_angles(figure.legs[1], body.legs[1]))
    return figure.model_copy(update={"arms": arms, "legs": legs})


# --- in-between frames -----------------------------------------------------------------------------
def _mix(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


def _mix_angle(a: float, b: float, t: float) -> float:
    """Turn the short way round: from 170 to -170 degrees passes through 180, not through 0."""
    turn = (b - a + 180.0) % 360.0 - 180.0
    return a + turn * t


def _mix_limb(a: Limb, b: Limb, t: float) -> Limb:
    if a.end is not None and b.end is not None:
        end: float | None = _mix_angle(a.end, b.end, t)
    else:  # a foot that appears or disappears switches halfway
        end = a.end if t < 0.5 else b.end
    assert a.angles is not None and b.angles is not None  # callers pass resolved() figures
    angles = (_mix_angle(a.angles[0], b.angles[0], t), _mix_angle(a.angles[1], b.angles[1], t))
    return Limb(angles=angles, end=end, reach=_mix(a.reach, b.reach, t))


def _mix_target(a: Limb, b: Limb, t: float) -> Limb:
    """A hand or foot placed on a point in both keyframes travels in a straight line between the two
    points (the limb bends to follow), so joined hands stay joined and a hand on the floor stays put."""
    assert a.to is not None and b.to is not None
    to = (_mix(a.to[0], b.to[0], t), _mix(a.to[1], b.to[1], t))
    end = _mix_angle(a.end, b.end, t) if a.end is not None and b.end is not None else (a.end if t < 0.5 else b.end)
    side = a.joint_side if t < 0.5 else b.joint_side
    return Limb(to=to, joint_side=side, end=end, reach=_mix(a.reach, b.reach, t))


def between(a: Figure, b: Figure, t: float, view: Literal["side", "above"]) -> Figure:
    """The figure a fraction t (0..1) of the way from pose a to pose b: the body and every limb turn by
    angle (so limbs keep their length), except that a limb placed by `to` in both keyframes follows its
    target (see _mix_target)."""
    angled_a, angled_b = resolved(a, view), resolved(b, view)

    def limb(group: Literal["arms", "legs"], index: int) -> Limb:
        first, second = getattr(a, group)[index], getattr(b, group)[index]
        if first.to is not None and second.to is not None:
            return _mix_target(first, second, t)
        return _mix_limb(getattr(angled_a, group)[index], getattr(angled_b, group)[index], t)

    return Figure(
        who=a.who,
        hips=(_mix(a.hips[0], b.hips[0], t), _mix(a.hips[1], b.hips[1], t)),
        torso=_mix_angle(a.torso, b.torso, t),
        bend=_mix(a.bend, b.bend, t),
        reach=_mix(a.reach, b.reach, t),
        head=_mix(a.head, b.head, t),
        arms=(limb("arms", 0), limb("arms", 1)),
        legs=(limb("legs", 0), limb("legs", 1)),
    )


# --- checks the loader runs ------------------------------------------------------------------------
def _outside(point: Point, radius: float) -> bool:
    x, y = point
    return x - radius < 0 or y - radius < 0 or x + radius > FRAME_WIDTH or y + radius > FRAME_HEIGHT


def _at(point: Point) -> str:
    return f"({point[0]:.1f}, {point[1]:.1f})"


FRAME = f"the frame (0..{FRAME_WIDTH:g} x 0..{FRAME_HEIGHT:g})"


def pose_problem(pose: Pose) -> tuple[str, str] | None:
    """The first problem of a pose, as (field path, message), or None: a hand or foot sent further than
    the limb reaches, or a part drawn outside the frame. The frame check covers the frames between two
    keyframes too, since a movement may swing a limb wider than either end does."""
    for k, keyframe in enumerate(pose.keyframes):
        for f, figure in enumerate(keyframe.figures):
            others = [pose.keyframes[1 - k].figures[f]] if pose.animated else []
            steps = [figure] + [between(figure, other, t / 4, pose.view) for other in others for t in (1, 2, 3)]
            body = skeleton(figure, pose.view)
            for group, chains in (("arms", body.arms), ("legs", body.legs)):
                for c, chain in enumerate(chains):
                    if chain.short_by > 0.05:
                        return (
                            f"keyframes[{k}].figures[{f}].{group}[{c}].to",
                            f"is {chain.short_by:.1f} units beyond the limb's reach",
                        )
            for step in steps:
                for name, point, radius in skeleton(step, pose.view).extents():
                    if _outside(point, radius):
                        return f"keyframes[{k}].figures[{f}]", f"{name} at {_at(point)} is outside {FRAME}"
        for a, arrow in enumerate(keyframe.arrows):
            for point in arrow.points:
                if _outside(point, 0):
                    return f"keyframes[{k}].arrows[{a}]", f"point {_at(point)} is outside {FRAME}"
    boxes = [("mat", pose.mat)] if pose.mat else []
    boxes += [(f"zones[{z}]", zone) for z, zone in enumerate(pose.zones)]
    for field, box in boxes:
        if box is None:
            continue
        if box[0] >= box[2] or box[1] >= box[3]:
            return field, "must be [x0, y0, x1, y1] with x0 < x1 and y0 < y1"
        for point in ((box[0], box[1]), (box[2], box[3])):
            if _outside(point, 0):
                return field, f"corner {_at(point)} is outside {FRAME}"
    for a, line in enumerate(pose.avoid):
        for point in line:
            if _outside(point, 0):
                return f"avoid[{a}]", f"point {_at(point)} is outside {FRAME}"
    for i, label in enumerate(pose.labels):
        if _outside(label.at, 0):
            return f"labels[{i}].at", f"{_at(label.at)} is outside {FRAME}"
    if pose.floor is not None and not 0 <= pose.floor <= FRAME_HEIGHT:
        return "floor", f"{pose.floor:g} is outside {FRAME}"
    return None


def poses_problem(poses: list[Pose], stretch_tags: Mapping[str, Sequence[str]]) -> tuple[str, str] | None:
    """The first problem across poses.yaml, as (field path, message), or None: a pose for an unknown or
    already drawn stretch, a stretch without a pose, a partner stretch without its two people, or a
    pose that `pose_problem` rejects. `stretch_tags` maps every stretch id to its tags, in file order."""
    seen: set[str] = set()
    for i, pose in enumerate(poses):
        if pose.stretch not in stretch_tags:
            return f"poses[{i}].stretch", f"unknown stretch {pose.stretch!r}"
        if pose.stretch in seen:
            return f"poses[{i}].stretch", f"a second pose for {pose.stretch!r}"
        seen.add(pose.stretch)
        if "partner" in stretch_tags[pose.stretch]:
            for k, keyframe in enumerate(pose.keyframes):
                if sorted(figure.who for figure in keyframe.figures) != ["partner", "you"]:
                    return (
                        f"poses[{i}].keyframes[{k}].figures",
                        "a partner stretch shows two people: one `who: you` and one `who: partner`",
                    )
        problem = pose_problem(pose)
        if problem is not None:
            return f"poses[{i}].{problem[0]}", problem[1]
    for stretch_id in stretch_tags:
        if stretch_id not in seen:
            return "poses", f"no pose for stretch {stretch_id!r} (every stretch needs a picture and its alt text)"
    return None
