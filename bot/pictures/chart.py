"""The progress chart as a PNG: sessions per day over the last 4 weeks, each day coloured by how it felt.

One bar per day (oldest left, today right), one block per session so counts read at a glance, a legend,
weekday initials and a date under each week. Colours meet 3:1 against their background in both themes
and are told apart without colour too: "tight" blocks are striped and "stopped for pain" blocks carry a
cross. Drawn with Pillow and its built-in font, with no clock or randomness, so the same data always
gives the same bytes (tests compare them; a cache could too).

    png = render_chart(summary.series, content.progress.chart)          # light: reads well anywhere
    png = render_chart(summary.series, content.progress.chart, "dark")  # for dark surfaces
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

from dialogs.progress import DayEntry, DayFeeling
from dialogs.progress_words import ChartWords

WIDTH, HEIGHT = 800, 400
PAD = 24
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 76, WIDTH - PAD, 100, HEIGHT - 70
BAR_GAP = 7  # pixels between neighbouring bars
BLOCK_GAP = 3  # pixels between the sessions stacked in one bar
MIN_SCALE = 2  # the y axis shows at least 0-2 sessions, so one session is not a wall of colour
Theme = Literal["light", "dark"]


@dataclass(frozen=True)
class Palette:
    background: str
    text: str
    muted: str
    grid: str
    good: str
    tight: str
    pain: str
    none: str  # sessions that day without a rating


PALETTES: dict[Theme, Palette] = {
    # every bar colour is >= 3:1 against the background (WCAG 1.4.11 for graphics), text >= 7:1
    "light": Palette(
        background="#FFFFFF",
        text="#1B1F24",
        muted="#4A525C",
        grid="#D5DAE0",
        good="#0072B2",
        tight="#B86E00",
        pain="#C0392B",
        none="#6E7781",
    ),
    "dark": Palette(
        background="#14171C",
        text="#F0F3F6",
        muted="#B8C0C8",
        grid="#343A42",
        good="#56B4E9",
        tight="#F0B43C",
        pain="#FF6B57",
        none="#9DA5AE",
    ),
}
LEGEND: tuple[DayFeeling, ...] = ("good", "tight", "pain")


@dataclass(frozen=True)
class Bar:
    day_index: int
    box: tuple[int, int, int, int]  # the whole bar (x0, y0, x1, y1), bottom on the axis
    blocks: tuple[tuple[int, int, int, int], ...]  # one per session, bottom first
    feeling: DayFeeling


@dataclass(frozen=True)
class Layout:
    """Where everything goes: used to draw, and by tests to check the picture."""

    slots: tuple[tuple[int, int], ...]  # per day: (x0, x1) of its bar, whether or not it has sessions
    bars: tuple[Bar, ...]  # days with sessions
    top_value: int  # sessions at the top of the y axis
    legend: tuple[tuple[DayFeeling, tuple[int, int, int, int]], ...]  # swatch boxes, in order


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def layout(series: Sequence[DayEntry], words: ChartWords) -> Layout:
    count = max(1, len(series))
    slot = (PLOT_RIGHT - PLOT_LEFT) // count
    top_value = max(MIN_SCALE, max((day.sessions for day in series), default=0))
    unit = (PLOT_BOTTOM - PLOT_TOP) / top_value
    slots = []
    bars = []
    for index, day in enumerate(series):
        x0 = PLOT_RIGHT - slot * (count - index) + BAR_GAP // 2
        x1 = x0 + slot - BAR_GAP
        slots.append((x0, x1))
        if day.sessions <= 0:
            continue
        blocks = tuple(
            (x0, round(PLOT_BOTTOM - (k + 1) * unit) + (BLOCK_GAP if k else 0), x1, round(PLOT_BOTTOM - k * unit))
            for k in range(day.sessions)
        )
        bars.append(Bar(index, (x0, blocks[-1][1], x1, PLOT_BOTTOM), blocks, day.feeling))
    return Layout(tuple(slots), tuple(bars), top_value, _legend_boxes(series, words))


def _legend_boxes(
    series: Sequence[DayEntry], words: ChartWords
) -> tuple[tuple[DayFeeling, tuple[int, int, int, int]], ...]:
    keys = list(LEGEND) + (["none"] if any(d.sessions and d.feeling == "none" for d in series) else [])
    font = _font(15)
    x, y, size = PAD, 58, 16
    boxes = []
    for key in keys:
        boxes.append((key, (x, y, x + size, y + size)))
        x += size + 8 + round(font.getlength(_legend_label(key, words))) + 24
    return tuple(boxes)


def _legend_label(key: DayFeeling, words: ChartWords) -> str:
    return {"good": words.good, "tight": words.tight, "pain": words.pain, "none": words.unrated}[key]


def _fill(
    draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], feeling: DayFeeling, palette: Palette, mark: bool = True
) -> None:
    """A block in its feeling's colour and pattern (readable without colour): tight striped, and a pain
    day's top block crossed (once: a day with three sessions had one stop, not three)."""
    x0, y0, x1, y1 = box
    draw.rectangle(box, fill=getattr(palette, feeling))
    if feeling == "tight":
        for offset in range(-(y1 - y0), x1 - x0, 7):  # diagonal stripes, 7 px apart, clipped to the block
            draw.line(_clip_diagonal(box, offset), fill=palette.background, width=2)
    elif feeling == "pain" and mark:
        cx, cy, arm = (x0 + x1) // 2, (y0 + y1) // 2, max(2, min(x1 - x0, y1 - y0) // 2 - 3)
        draw.line((cx - arm, cy - arm, cx + arm, cy + arm), fill=palette.background, width=2)
        draw.line((cx - arm, cy + arm, cx + arm, cy - arm), fill=palette.background, width=2)


def _clip_diagonal(box: tuple[int, int, int, int], offset: int) -> tuple[int, int, int, int]:
    """The part inside `box` of the line x = x0 + offset + (y1 - y), rising to the right."""
    x0, y0, x1, y1 = box
    start_y = y1 if offset >= 0 else y1 + offset
    start_x = x0 + max(offset, 0)
    length = min(x1 - start_x, start_y - y0)
    return (start_x, start_y, start_x + max(length, 0), start_y - max(length, 0))


def render_chart(series: Sequence[DayEntry], words: ChartWords, theme: Theme = "light") -> bytes:
    """The chart as PNG bytes (800x400)."""
    palette = PALETTES[theme]
    plan = layout(series, words)
    image = Image.new("RGB", (WIDTH, HEIGHT), palette.background)
    draw = ImageDraw.Draw(image)
    draw.text((PAD, 18), words.title, font=_font(24), fill=palette.text)
    for key, box in plan.legend:
        _fill(draw, box, key, palette)
        draw.text((box[2] + 8, box[1] + 8), _legend_label(key, words), font=_font(15), fill=palette.text, anchor="lm")
    _axes(draw, plan, palette)
    for bar in plan.bars:
        for block in bar.blocks:
            _fill(draw, block, bar.feeling, palette, mark=block is bar.blocks[-1])
    _labels(draw, series, plan, words, palette)
    if not plan.bars:
        # in the lower half, clear of the grid lines (the y axis shows 0-2 then)
        middle = ((PLOT_LEFT + PLOT_RIGHT) // 2, (PLOT_TOP + 3 * PLOT_BOTTOM) // 4)
        draw.text(middle, words.empty, font=_font(18), fill=palette.muted, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)  # no metadata, no timestamps: same data, same bytes
    return out.getvalue()


def _axes(draw: ImageDraw.ImageDraw, plan: Layout, palette: Palette) -> None:
    step = 1 if plan.top_value <= 6 else -(-plan.top_value // 5)  # at most ~6 grid lines
    unit = (PLOT_BOTTOM - PLOT_TOP) / plan.top_value
    for value in range(0, plan.top_value + 1, step):
        y = round(PLOT_BOTTOM - value * unit)
        if value:
            draw.line((PLOT_LEFT, y, PLOT_RIGHT, y), fill=palette.grid, width=1)
        draw.text((PLOT_LEFT - 12, y), str(value), font=_font(14), fill=palette.muted, anchor="rm")
    draw.line((PLOT_LEFT, PLOT_BOTTOM, PLOT_RIGHT, PLOT_BOTTOM), fill=palette.muted, width=2)


def _labels(
    draw: ImageDraw.ImageDraw, series: Sequence[DayEntry], plan: Layout, words: ChartWords, palette: Palette
) -> None:
    for index, (day, (x0, x1)) in enumerate(zip(series, plan.slots, strict=True)):
        centre = (x0 + x1) / 2
        draw.text(
            (centre, PLOT_BOTTOM + 16),
            words.weekdays[day.day.weekday()],
            font=_font(14),
            fill=palette.muted,
            anchor="mm",
        )
        if index % 7 == 0 and index <= len(series) - 7:
            draw.text(
                (x0, PLOT_BOTTOM + 40),
                f"{day.day.day} {words.months[day.day.month - 1]}",
                font=_font(14),
                fill=palette.text,
                anchor="lm",
            )
    if series:
        draw.text((plan.slots[-1][1], PLOT_BOTTOM + 40), words.today, font=_font(14), fill=palette.text, anchor="rm")
