"""Progress in plain words and as a short text chart, from a ProgressSummary and content/progress.yaml.

Pure: the summary is data (dialogs.progress), the wording is content (dialogs.progress_words), and these
functions only put the two together. No line scolds: with no recent session the text says the bot is
there whenever the user is ready, and the all-time count is always shown once there is one.
"""

from __future__ import annotations

from collections.abc import Sequence

from dialogs.progress import DayEntry, FeelingCounts, Period, ProgressSummary, ScoreTrend, habit_run
from dialogs.progress_words import ChartWords, ProgressWords

CHART_ROWS = 5  # the text chart is at most this tall; taller days are scaled down
SAME_WITHIN = 0.5  # average before/after differences smaller than this read as "about the same"
# one glyph per day feeling, so the text chart reads without colour
GLYPHS = {"good": "█", "tight": "▒", "pain": "!", "none": "░"}


def held(seconds: int, words: ProgressWords) -> str:
    """Seconds held, in whole minutes ("12 minutes"), or "under a minute" for a few seconds."""
    if 0 < seconds < 30:
        return words.texts.held_under_a_minute
    return words.units.minute.of((seconds + 30) // 60)


def period_lines(period: Period, words: ProgressWords) -> list[str]:
    texts, units = words.texts, words.units
    if not period.sessions:
        return [texts.period_empty.format(days=period.days)]
    lines = [
        texts.period.format(
            days=period.days,
            sessions=units.session.of(period.sessions),
            stretches=units.stretch.of(period.stretches),
            held=held(period.seconds, words),
        )
    ]
    feelings = feelings_list(period.feelings, words)
    if feelings:
        lines.append(texts.feelings.format(list=feelings))
    return lines


def feelings_list(counts: FeelingCounts, words: ProgressWords) -> str:
    """ "10 good, 2 tight but OK, 1 skipped": only the feelings that happened, in a fixed order."""
    items = [
        (counts.good, words.feelings.good),
        (counts.tight, words.feelings.tight),
        (counts.pain, words.feelings.pain),
        (counts.skipped, words.feelings.skipped),
    ]
    return ", ".join(words.texts.feeling_item.format(count=count, feeling=feeling) for count, feeling in items if count)


def habit_lines(summary: ProgressSummary, words: ProgressWords) -> list[str]:
    texts, units = words.texts, words.units
    if summary.active_days:
        lines = [texts.active_days.format(active=summary.active_days, days=summary.week.days)]
    else:
        lines = [texts.no_recent_days.format(days=summary.week.days)]
    run = habit_run(summary.weekly, words.habit.min_per_week)
    if run.weeks >= words.habit.min_weeks:
        lines.append(texts.habit.format(per_week=units.session.of(run.per_week), weeks=units.week.of(run.weeks)))
    if summary.all_time:
        lines.append(texts.all_time.format(sessions=units.session.of(summary.all_time)))
    return lines


def score_lines(trend: ScoreTrend, words: ProgressWords) -> list[str]:
    before, after = trend.before, trend.after
    if before is None or after is None:
        return []
    texts, units = words.texts, words.units
    lines = [
        texts.scores.format(
            days=trend.days, pairs=units.session.of(trend.pairs), before=_number(before), after=_number(after)
        )
    ]
    change = round(after - before, 1)
    if abs(change) < SAME_WITHIN:
        lines.append(texts.scores_same)
    elif change < 0:
        lines.append(texts.scores_lower.format(points=units.point.of(-change)))
    else:
        lines.append(texts.scores_higher.format(points=units.point.of(change)))
    return lines


def progress_text(summary: ProgressSummary, words: ProgressWords) -> str:
    """The /progress message: last 7 and 30 days, the habit line, the before/after trend."""
    lines = [words.texts.title]
    lines += period_lines(summary.week, words)
    lines += period_lines(summary.month, words)
    lines += habit_lines(summary, words)
    lines += score_lines(summary.scores, words)
    return "\n".join(lines)


def weekly_text(summary: ProgressSummary, words: ProgressWords) -> str:
    """The weekly summary's words (sent with the chart): the week's figures and one line of encouragement."""
    texts = words.texts
    if summary.week.sessions:
        line = texts.weekly_active.format(
            sessions=words.units.session.of(summary.week.sessions), held=held(summary.week.seconds, words)
        )
    else:
        line = texts.weekly_quiet
    return f"{texts.weekly_intro}\n{line}"


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


# ---- the text chart ---------------------------------------------------------------------------------------
def text_chart(series: Sequence[DayEntry], words: ChartWords) -> str:
    """A short chart for the console: one column per day (oldest left, today right), as tall as the
    day's sessions, drawn with the day's feeling glyph; weekday initials and a date under each week."""
    if not any(entry.sessions for entry in series):
        return f"{words.title}\n{words.empty}"
    top = max(entry.sessions for entry in series)
    rows = min(top, CHART_ROWS)
    label_width = len(str(top))
    lines = [words.title]
    for row in range(rows, 0, -1):
        level = -(-row * top // rows)  # the sessions this row stands for (ceiling): exact when not scaled
        cells = "".join((GLYPHS[e.feeling] if _height(e.sessions, top, rows) >= row else " ") + " " for e in series)
        lines.append(f"{level:>{label_width}} │ {cells.rstrip()}")
    indent = " " * label_width
    lines.append(f"{indent} └{'─' * (2 * len(series) + 1)}")
    lines.append(f"{indent}   {' '.join(words.weekdays[e.day.weekday()][0] for e in series)}")
    lines.append(f"{indent}   {_date_row(series, words)}")
    legend = [("good", words.good), ("tight", words.tight), ("pain", words.pain), ("none", words.unrated)]
    shown = {e.feeling for e in series if e.sessions}
    lines.append("  ".join(f"{GLYPHS[key]} {label}" for key, label in legend if key in shown))
    return "\n".join(lines)


def _height(sessions: int, top: int, rows: int) -> int:
    """Rows a day fills: its sessions scaled to the chart, at least one row for any session."""
    if not sessions:
        return 0
    return max(1, -(-sessions * rows // top))


def _date_row(series: Sequence[DayEntry], words: ChartWords) -> str:
    """ "2 Feb" under the first day of each week, and "today" under the last column when it fits."""
    row = [" "] * (2 * len(series))
    for index in range(0, len(series), 7):
        day = series[index].day
        label = f"{day.day} {words.months[day.month - 1]}"
        row[2 * index : 2 * index + len(label)] = list(label)
    text = "".join(row).rstrip()
    if series:
        today_at = 2 * (len(series) - 1)
        if len(text) < today_at:
            text = text.ljust(today_at) + words.today
    return text
