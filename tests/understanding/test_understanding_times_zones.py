"""Times, zones, scores and days as people type them (issue 12, point 7)."""

from __future__ import annotations

from datetime import datetime

import pytest
from screens import expectation

from dialogs.content import load_content
from dialogs.schedule import zone_of
from dialogs.understanding import (
    Choose,
    Days,
    Reader,
    Score,
    TimeOfDay,
    Unknown,
    Zone,
    ZoneAmbiguous,
)

CONTENT = load_content()
READER = Reader(CONTENT.phrases, CONTENT.places)


@pytest.mark.parametrize(
    "typed, hour, minute",
    [
        ("7:30", 7, 30),
        ("19:00", 19, 0),
        ("7pm", 19, 0),
        ("7.30 am", 7, 30),
        ("0730", 7, 30),
        ("19h30", 19, 30),
        ("half past seven", 7, 30),
        ("half seven", 7, 30),
        ("quarter to 8", 7, 45),
        ("a quarter past six", 6, 15),
        ("ten to nine", 8, 50),
        ("twenty five past 6", 6, 25),
        ("noon", 12, 0),
        ("midday", 12, 0),
        ("midnight", 0, 0),
        ("7 in the evening", 19, 0),
        ("7 in the morning", 7, 0),
        ("seven thirty", 7, 30),
        ("7 30", 7, 30),
        ("12am", 0, 0),
        ("12pm", 12, 0),
        ("at 7ish please", 7, 0),
        ("9 tonight", 21, 0),
        ("2 in the afternoon", 14, 0),
        ("I am free at 6pm", 18, 0),
        ("5", 5, 0),
        ("8", 8, 0),
        ("21", 21, 0),
        ("around 6:15 pm", 18, 15),
    ],
)
def test_a_time_of_day(typed: str, hour: int, minute: int) -> None:
    assert READER.read(typed, expectation("remind.time")) == TimeOfDay(hour, minute)


@pytest.mark.parametrize("typed", ["25:00", "7:60", "13pm", "whenever", "after work", ""])
def test_not_a_time(typed: str) -> None:
    assert not isinstance(READER.read(typed, expectation("remind.time")), TimeOfDay)


def test_a_bare_number_on_the_time_step_is_an_hour_never_a_button() -> None:
    for number in range(1, 6):  # the time step has five buttons: "5" is still 05:00
        assert READER.read(str(number), expectation("remind.time")) == TimeOfDay(number, 0)


@pytest.mark.parametrize(
    "typed, zone",
    [
        ("EST", "America/New_York"),
        ("edt", "America/New_York"),
        ("eastern time", "America/New_York"),
        ("PST", "America/Los_Angeles"),
        ("pacific", "America/Los_Angeles"),
        ("CET", "Europe/Berlin"),
        ("cest", "Europe/Berlin"),
        ("JST", "Asia/Tokyo"),
        ("aest", "Australia/Sydney"),
        ("Zürich", "Europe/Zurich"),
        ("München", "Europe/Berlin"),
        ("Muenchen", "Europe/Berlin"),
        ("São Paulo", "America/Sao_Paulo"),
        ("Genève", "Europe/Zurich"),
        ("I live in Leeds", "Europe/London"),
        ("new  york", "America/New_York"),
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/london please", "Europe/London"),
        ("america/argentina/buenos aires", "America/Argentina/Buenos_Aires"),
        ("UTC", "UTC"),
        ("gmt", "UTC"),
        ("UTC+5:30", "UTC+05:30"),
        ("+05:45", "UTC+05:45"),
        ("GMT-3", "UTC-03:00"),
        ("utc+0", "UTC"),
    ],
)
def test_a_zone(typed: str, zone: str) -> None:
    assert READER.read(typed, expectation("remind.zone")) == Zone(zone)


@pytest.mark.parametrize(
    "typed, includes",
    [
        ("IST", {"Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"}),
        ("cst", {"America/Chicago", "Asia/Shanghai"}),
        ("BST", {"Europe/London", "Asia/Dhaka"}),
        ("I'm in the USA", {"America/New_York", "America/Los_Angeles"}),
    ],
)
def test_an_ambiguous_zone_is_not_guessed(typed: str, includes: set[str]) -> None:
    reading = READER.read(typed, expectation("remind.zone"))
    assert isinstance(reading, ZoneAmbiguous) and includes <= set(reading.candidates)


def test_abbreviations_follow_daylight_saving() -> None:
    """EST in July is New York's EDT (UTC-4), never a fixed UTC-5."""
    reading = READER.read("EST", expectation("remind.zone"))
    assert isinstance(reading, Zone)
    assert zone_of(reading.name).utcoffset(datetime(2026, 7, 1, 12)).total_seconds() == -4 * 3600
    assert zone_of(reading.name).utcoffset(datetime(2026, 1, 1, 12)).total_seconds() == -5 * 3600


@pytest.mark.parametrize("typed", ["Mars/Olympus", "utc+15", "utc+2:10", "somewhere nice", ""])
def test_not_a_zone(typed: str) -> None:
    assert not isinstance(READER.read(typed, expectation("remind.zone")), Zone | ZoneAmbiguous)


def test_a_zone_button_label_typed_is_its_zone() -> None:
    for button in CONTENT.places.buttons:
        reading = READER.read(button.label, expectation("remind.zone"))
        assert reading == Zone(button.zone) or reading == Choose(f"zone_{CONTENT.places.buttons.index(button)}")


@pytest.mark.parametrize(
    "typed, value",
    [
        ("7", 7),
        ("seven", 7),
        ("about a 7 out of 10", 7),
        ("6/10", 6),
        ("10/10", 10),
        ("5 or 6", 6),
        ("between 5 and 7", 7),
        ("0", 0),
        ("zero", 0),
        ("no pain", 0),
        ("12", 10),
        ("7.5", 7),
    ],
)
def test_a_typed_number_on_the_score_question_is_a_score(typed: str, value: int) -> None:
    assert READER.read(typed, expectation("screening.score")) == Score(value)


@pytest.mark.parametrize(
    "typed, choice", [("0-3", "low"), ("4-6", "mid"), ("7-10", "high"), ("mild", "low"), ("severe", "high")]
)
def test_a_range_typed_whole_is_its_button(typed: str, choice: str) -> None:
    assert READER.read(typed, expectation("screening.score")) == Choose(choice)


@pytest.mark.parametrize(
    "typed, days",
    [
        ("3", 3),
        ("3 days", 3),
        ("for 5 days", 5),
        ("a week", 7),
        ("two weeks", 14),
        ("a fortnight", 14),
        ("1", 1),
        ("45 days", 45),
    ],
)
def test_days_to_pause(typed: str, days: int) -> None:
    assert READER.read(typed, expectation("remind.pause")) == Days(days)


def test_nothing_numeric_on_the_pause_step() -> None:
    assert READER.read("until I'm back", expectation("remind.pause")) == Unknown()
