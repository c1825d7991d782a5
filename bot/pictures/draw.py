"""Draw one frame of a pose: a friendly rounded-limb figure on a light card, as a Pillow image.

Pillow's shapes have no anti-aliasing, so each frame is drawn at SUPERSAMPLE times the size and scaled
down, which gives smooth edges with no system library beyond Pillow's own wheel. Text uses Pillow's
built-in default font (no font files to license). Colours are chosen for contrast on a light card, so
the picture reads the same in a chat app's light and dark mode.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from dialogs.poses import (
    FRAME_HEIGHT,
    FRAME_WIDTH,
    HALF_WIDTH,
    HEAD_RADIUS,
    Chain,
    Figure,
    Label,
    Point,
    Pose,
    Skeleton,
    skeleton,
)

WIDTH, HEIGHT = 800, 600
SUPERSAMPLE = 3
UNIT = WIDTH / FRAME_WIDTH * SUPERSAMPLE  # pixels per frame unit on the big canvas

RGB = tuple[int, int, int]
PAPER: RGB = (247, 244, 236)
FLOOR_BAND: RGB = (234, 228, 213)
FLOOR_LINE: RGB = (176, 166, 142)
MAT: RGB = (196, 218, 234)
MAT_EDGE: RGB = (150, 182, 206)
INK = {"you": (36, 59, 107), "partner": (125, 73, 148)}  # deep blue; plum for the second person
ARROW: RGB = (232, 89, 12)
HERE: RGB = (47, 158, 68)
AVOID: RGB = (214, 51, 88)
TEXT: RGB = (52, 58, 64)
TONES = {"plain": TEXT, "here": HERE, "avoid": AVOID}
FAR_LIMB_SHADE = 0.45  # far-side arm and leg: this much of the way from the ink towards the paper
OUTLINE = 0.7  # frame units of paper-coloured rim around each figure


def blend(colour: RGB, towards: RGB, share: float) -> RGB:
    r, g, b = (round(c + (t - c) * share) for c, t in zip(colour, towards, strict=True))
    return (r, g, b)


def _px(point: Point) -> tuple[float, float]:
    return (point[0] * UNIT, (FRAME_HEIGHT - point[1]) * UNIT)


class Canvas:
    """The big (supersampled) drawing surface, in frame units."""

    def __init__(self) -> None:
        self.image = Image.new("RGB", (WIDTH * SUPERSAMPLE, HEIGHT * SUPERSAMPLE), PAPER)
        self.draw = ImageDraw.Draw(self.image)

    def dot(self, point: Point, radius: float, colour: RGB) -> None:
        x, y = _px(point)
        r = radius * UNIT
        self.draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)

    def capsule(self, points: Sequence[Point], radius: float, colour: RGB) -> None:
        """A thick line with round ends and round joints: a limb or the torso.

        Drawn as one quadrilateral per segment plus a disc at every point: Pillow's wide polylines leave
        hairline gaps inside sharp bends."""
        r = radius * UNIT
        pixels = [_px(p) for p in points]
        for (x0, y0), (x1, y1) in itertools.pairwise(pixels):
            length = math.hypot(x1 - x0, y1 - y0)
            if length == 0:
                continue
            nx, ny = -(y1 - y0) / length * r, (x1 - x0) / length * r
            self.draw.polygon(
                [(x0 + nx, y0 + ny), (x1 + nx, y1 + ny), (x1 - nx, y1 - ny), (x0 - nx, y0 - ny)], fill=colour
            )
        for x, y in pixels:
            self.draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)

    def box(
        self, box: tuple[float, float, float, float], colour: RGB, outline: RGB | None = None, corner: float = 1.5
    ) -> None:
        x0, y1 = _px((box[0], box[1]))
        x1, y0 = _px((box[2], box[3]))
        self.draw.rounded_rectangle(
            (x0, y0, x1, y1),
            radius=corner * UNIT,
            fill=colour,
            outline=outline,
            width=round(0.4 * UNIT) if outline else 0,
        )

    def text(self, at: Point, words: str, size: float, colour: RGB, pill: RGB | None = None) -> None:
        font = ImageFont.load_default(size=round(size * UNIT))
        x, y = _px(at)
        if pill is not None:
            left, top, right, bottom = self.draw.textbbox((x, y), words, font=font)
            pad = 0.8 * UNIT
            self.draw.rounded_rectangle(
                (left - pad, top - pad, right + pad, bottom + pad),
                radius=pad * 1.5,
                fill=pill,
                outline=colour,
                width=round(0.3 * UNIT),
            )
        self.draw.text((x, y), words, font=font, fill=colour)

    def finish(self) -> Image.Image:
        return self.image.reduce(SUPERSAMPLE)  # a box filter: averaging each 3x3 block is the anti-aliasing


# --- parts ------------------------------------------------------------------------------------------
def _limb(canvas: Canvas, chain: Chain, half: float, end_radius: float, colour: RGB, foot: bool) -> None:
    canvas.capsule([chain.root, chain.middle, chain.end], half, colour)
    if foot and chain.toe is not None:
        canvas.capsule([chain.end, chain.toe], HALF_WIDTH["foot"] + (half - HALF_WIDTH["leg"]), colour)
    else:
        canvas.dot(chain.end, end_radius, colour)


def draw_figure(canvas: Canvas, body: Skeleton, view: str) -> None:
    """A figure with a thin paper-coloured rim, so two people, a mat or marked zones stay apart."""
    _draw_figure(canvas, body, view, OUTLINE, PAPER)
    _draw_figure(canvas, body, view, 0.0, None)


def _draw_figure(canvas: Canvas, body: Skeleton, view: str, grow: float, only: RGB | None) -> None:
    ink = only or INK[body.who]
    far = only or (blend(ink, PAPER, FAR_LIMB_SHADE) if view == "side" else ink)
    arm, leg, hand = HALF_WIDTH["arm"] + grow, HALF_WIDTH["leg"] + grow, HALF_WIDTH["hand"] + grow
    # far side first, so the near limbs and the body cover it
    _limb(canvas, body.legs[1], leg, leg, far, foot=True)
    _limb(canvas, body.arms[1], arm, hand, far, foot=False)
    if view == "above":
        _limb(canvas, body.legs[0], leg, leg, ink, foot=True)
    canvas.capsule(body.spine, body.torso_half_width + grow, ink)
    canvas.capsule([body.spine[-1], body.head], HALF_WIDTH["arm"] * 1.1 + grow, ink)  # the neck
    if view == "side":
        canvas.dot(body.head, HEAD_RADIUS + grow, ink)
        _limb(canvas, body.legs[0], leg, leg, ink, foot=True)
    _limb(canvas, body.arms[0], arm, hand, ink, foot=False)
    if view == "above":  # seen from above the head is the highest part, over the arms reaching forward
        canvas.dot(body.head, HEAD_RADIUS + grow, ink)


def draw_arrow(canvas: Canvas, points: Sequence[Point]) -> None:
    if len(points) == 3:  # a quadratic curve through the middle point
        start, through, end = points
        control = (2 * through[0] - (start[0] + end[0]) / 2, 2 * through[1] - (start[1] + end[1]) / 2)
        path = [_quad(start, control, end, i / 16) for i in range(17)]
    else:
        path = list(points)
    tip, before = path[-1], path[-2]
    angle = math.atan2(tip[1] - before[1], tip[0] - before[0])
    head_length, head_half = 3.6, 2.6
    base = (tip[0] - head_length * math.cos(angle), tip[1] - head_length * math.sin(angle))
    shaft = [*path[:-1], base]
    canvas.capsule(shaft, 0.75, ARROW)
    wing = (math.cos(angle + math.pi / 2) * head_half, math.sin(angle + math.pi / 2) * head_half)
    triangle = [tip, (base[0] + wing[0], base[1] + wing[1]), (base[0] - wing[0], base[1] - wing[1])]
    canvas.draw.polygon([_px(p) for p in triangle], fill=ARROW)


def _quad(p0: Point, control: Point, p2: Point, t: float) -> Point:
    u = 1 - t
    return (
        u * u * p0[0] + 2 * u * t * control[0] + t * t * p2[0],
        u * u * p0[1] + 2 * u * t * control[1] + t * t * p2[1],
    )


def draw_zones(canvas: Canvas, pose: Pose) -> None:
    for x0, y0, x1, y1 in pose.zones:
        left, bottom = _px((x0, y0))
        right, top = _px((x1, y1))
        canvas.draw.ellipse(
            (left, top, right, bottom), fill=blend(HERE, PAPER, 0.35), outline=(255, 255, 255), width=round(0.5 * UNIT)
        )
    for line in pose.avoid:  # dashed, so it reads as "keep off this line" rather than as part of the body
        for start, end in itertools.pairwise(line):
            length = math.dist(start, end)
            dashes = max(1, int(length / 2.4))
            for i in range(0, dashes, 2):
                a, b = i / dashes, min(1.0, (i + 1) / dashes)
                canvas.capsule([_lerp(start, end, a), _lerp(start, end, b)], 0.55, AVOID)


def _lerp(a: Point, b: Point, t: float) -> Point:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


def draw_label(canvas: Canvas, label: Label) -> None:
    colour = TONES[label.tone]
    canvas.text(label.at, label.text, 2.6, colour, pill=(255, 255, 255))


# --- a whole frame ----------------------------------------------------------------------------------
def draw_frame(
    pose: Pose, figures: Sequence[Figure], arrows: Sequence[Sequence[Point]], title: str, caption: str
) -> Image.Image:
    """One 800x600 RGB frame: the scene, the figures in the given positions, arrows, labels and title."""
    canvas = Canvas()
    if pose.floor is not None:
        _, floor_y = _px((0, pose.floor))
        canvas.draw.rectangle((0, floor_y, WIDTH * SUPERSAMPLE, HEIGHT * SUPERSAMPLE), fill=FLOOR_BAND)
        canvas.draw.line((0, floor_y, WIDTH * SUPERSAMPLE, floor_y), fill=FLOOR_LINE, width=round(0.45 * UNIT))
    if pose.mat is not None:
        canvas.box(pose.mat, MAT, MAT_EDGE)
    bodies = [skeleton(figure, pose.view) for figure in figures]
    # the person being helped lies underneath: zones go on their back, the helper's hands on top
    for body in (b for b in bodies if b.who == "partner"):
        draw_figure(canvas, body, pose.view)
    draw_zones(canvas, pose)
    for body in (b for b in bodies if b.who == "you"):
        draw_figure(canvas, body, pose.view)
    for points in arrows:
        draw_arrow(canvas, points)
    for label in pose.labels:
        draw_label(canvas, label)
    canvas.text((3.0, FRAME_HEIGHT - 2.6), title, 3.6, TEXT)
    if caption:
        canvas.text((3.0, FRAME_HEIGHT - 8.0), caption, 2.8, ARROW)
    return canvas.finish()
