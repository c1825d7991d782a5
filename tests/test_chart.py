"""The progress chart picture (bot/pictures/chart.py), checked by reading the real PNG back with Pillow:
a valid 800x400 image, one bar per day with a session (one block per session) in its feeling's colour,
the legend swatches, text in both themes, and the same data giving the same bytes."""

from __future__ import annotations

import io
from collections import Counter
from datetime import date, timedelta

import pytest
from PIL import Image, ImageColor

from bot.pictures.chart import HEIGHT, PALETTES, PLOT_BOTTOM, WIDTH, layout, render_chart
from dialogs.content import Content
from dialogs.progress import SERIES_DAYS, DayEntry, DayFeeling

TODAY = date(2026, 3, 20)


def series(*days: tuple[int, DayFeeling]) -> list[DayEntry]:
    """28 days ending TODAY; `days` sets (sessions, feeling) from the oldest, the rest are empty."""
    entries = [DayEntry(TODAY - timedelta(days=SERIES_DAYS - 1 - i), 0, "none") for i in range(SERIES_DAYS)]
    for index, (sessions, feeling) in enumerate(days):
        entries[index] = DayEntry(entries[index].day, sessions, feeling)
    return entries


MIXED = series((1, "good"), (0, "none"), (2, "tight"), (3, "pain"), (1, "none"), *[(1, "good")] * 10, (4, "good"))


def open_png(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
    return image.convert("RGB")


def colours(image: Image.Image) -> Counter[tuple[int, int, int]]:
    return Counter({colour: count for count, colour in image.getcolors(image.width * image.height)})


def main_colour(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[int, int, int]:
    return colours(image.crop((box[0], box[1], box[2] + 1, box[3] + 1))).most_common(1)[0][0]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_one_bar_per_day_with_a_session_in_its_feelings_colour(theme, content: Content) -> None:
    words = content.progress.chart
    image = open_png(render_chart(MIXED, words, theme))
    palette = PALETTES[theme]
    plan = layout(MIXED, words)
    assert len(plan.slots) == SERIES_DAYS
    assert [bar.day_index for bar in plan.bars] == [i for i, d in enumerate(MIXED) if d.sessions]
    background = ImageColor.getrgb(palette.background)
    for bar in plan.bars:
        assert len(bar.blocks) == MIXED[bar.day_index].sessions
        for block in bar.blocks:
            assert main_colour(image, block) == ImageColor.getrgb(getattr(palette, bar.feeling)), bar
    for index, (x0, x1) in enumerate(plan.slots):  # days without a session: nothing above the axis
        if not MIXED[index].sessions:
            assert main_colour(image, (x0, PLOT_BOTTOM - 200, x1, PLOT_BOTTOM - 3)) == background
    # bars are side by side, never overlapping, all inside the picture
    edges = [x for slot in plan.slots for x in slot]
    assert edges == sorted(edges) and edges[0] > 0 and edges[-1] < WIDTH


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_legend_shows_each_feeling_with_its_colour_and_words(theme, content: Content) -> None:
    words = content.progress.chart
    image = open_png(render_chart(MIXED, words, theme))
    palette = PALETTES[theme]
    plan = layout(MIXED, words)
    assert [key for key, _ in plan.legend] == ["good", "tight", "pain", "none"]  # "none": a day was not rated
    for key, box in plan.legend:
        assert main_colour(image, box) == ImageColor.getrgb(getattr(palette, key))
    text = ImageColor.getrgb(palette.text)
    ends = [following[0] - 4 for _, following in plan.legend[1:]] + [plan.legend[-1][1][2] + 120]
    for (key, box), end in zip(plan.legend, ends, strict=True):
        label = image.crop((box[2] + 4, box[1], end, box[3] + 1))
        assert text in colours(label), f"the {key} swatch has its label next to it"
    only_rated = layout(series((1, "good"), (1, "pain")), words)
    assert [key for key, _ in only_rated.legend] == ["good", "tight", "pain"]  # always the three feelings


def test_the_title_and_labels_are_drawn_in_high_contrast(content: Content) -> None:
    for theme, palette in PALETTES.items():
        image = open_png(render_chart(MIXED, content.progress.chart, theme))
        title = colours(image.crop((20, 14, 360, 46)))
        assert ImageColor.getrgb(palette.text) in title, theme
        below = colours(image.crop((60, PLOT_BOTTOM + 6, WIDTH - 10, HEIGHT - 10)))  # weekdays and dates
        assert ImageColor.getrgb(palette.text) in below and ImageColor.getrgb(palette.muted) in below
        assert _contrast(palette.text, palette.background) >= 7
        for colour in (palette.good, palette.tight, palette.pain, palette.none, palette.muted):
            assert _contrast(colour, palette.background) >= 3, (theme, colour)


def test_the_same_data_gives_the_same_bytes_and_other_data_other_bytes(content: Content) -> None:
    words = content.progress.chart
    first = render_chart(MIXED, words)
    assert render_chart(list(MIXED), words) == first
    assert render_chart(MIXED, words, "dark") != first
    changed = [*MIXED[:-1], DayEntry(MIXED[-1].day, 1, "tight")]
    assert render_chart(changed, words) != first
    shifted = [DayEntry(d.day + timedelta(days=1), d.sessions, d.feeling) for d in MIXED]  # same bars, new dates
    assert render_chart(shifted, words) != first


def test_an_empty_month_and_a_busy_day_still_draw(content: Content) -> None:
    words = content.progress.chart
    empty = open_png(render_chart(series(), words))
    plot = colours(empty.crop((80, 110, WIDTH - 30, PLOT_BOTTOM - 5)))
    assert ImageColor.getrgb(PALETTES["light"].muted) in plot  # the "no sessions yet" words
    busy = series(*[(12, "good")] * 3)
    plan = layout(busy, words)
    assert plan.top_value == 12 and all(b.box[1] >= 95 for b in plan.bars)
    open_png(render_chart(busy, words))


def _contrast(first: str, second: str) -> float:
    def luminance(colour: str) -> float:
        channels = [c / 255 for c in ImageColor.getrgb(colour)[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)
