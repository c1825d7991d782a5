"""Time zones as people type them: a city ("Zürich", "new york"), an abbreviation ("EST", "CET"), a zone
name ("Europe/Berlin") or an offset ("UTC+5:30"), anywhere in the message ("I'm in Toronto").

Abbreviations map to the IANA zone people mean, so daylight saving follows ("EST" is New York, not a
fixed UTC-5); a name that stands for several zones ("IST": India, Ireland or Israel) is not guessed.
The names come from content/places.yaml (`cities`, `abbreviations`, `ambiguous`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from dialogs.understanding.normal import fold
from dialogs.understanding.readings import Zone, ZoneAmbiguous

_OFFSET = re.compile(
    r"(?:(?<![a-z])(?:utc|gmt)\s*|^\s*)(?P<sign>[+-])\s*(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?(?!\d)"
)
_IANA = re.compile(r"[a-z][a-z_-]*(?:/[a-z_-]+(?: [a-z_-]+)*)+")
_WORDS = re.compile(r"[a-z]+")
_UTC = ("utc", "gmt", "z", "zulu", "utc time", "gmt time")


class PlaceNames(Protocol):
    """What the zone reader needs from content/places.yaml (dialogs.content.Places has it)."""

    @property
    def cities(self) -> Mapping[str, str]: ...

    @property
    def abbreviations(self) -> Mapping[str, str]: ...

    @property
    def ambiguous(self) -> Mapping[str, Sequence[str]]: ...


class Zones:
    def __init__(self, places: PlaceNames, zone_names: Iterable[str]) -> None:
        self._iana = {name.lower(): name for name in zone_names}
        self._names: dict[tuple[str, ...], str | tuple[str, ...]] = {}
        for table in (places.cities, places.abbreviations):
            for name, zone in table.items():
                self._names[tuple(_WORDS.findall(fold(name)))] = zone
        for name, zones in places.ambiguous.items():
            self._names[tuple(_WORDS.findall(fold(name)))] = tuple(zones)
        self._longest = max(len(key) for key in self._names) if self._names else 1

    def read(self, folded: str) -> Zone | ZoneAmbiguous | None:
        """The zone a (folded) message names, or None."""
        text = " ".join(folded.split())
        if text.strip(" .!?") in _UTC:
            return Zone("UTC")
        offset = _offset(text)
        if offset is not None:
            return Zone(offset) if offset else None
        for match in _IANA.finditer(text):
            words = match.group().split(" ")
            for size in range(len(words), 0, -1):  # "europe/berlin please": drop words from the end
                name = self._iana.get("_".join(words[:size]))
                if name:
                    return Zone(name)
        words = _WORDS.findall(text)
        for start in range(len(words)):
            for size in range(min(self._longest, len(words) - start), 0, -1):
                found = self._names.get(tuple(words[start : start + size]))
                if found is None:
                    continue
                if isinstance(found, tuple):
                    return ZoneAmbiguous(" ".join(words[start : start + size]), found)
                return Zone(found)
        return None


def _offset(text: str) -> str | None:
    """ "UTC+05:30" for an offset in the text; "" for an impossible one; None when there is none."""
    match = _OFFSET.search(text)
    if not match:
        return None
    hours, minutes = int(match["hours"]), int(match["minutes"] or 0)
    total = hours * 60 + minutes
    if minutes % 15 or (match["sign"] == "+" and total > 14 * 60) or (match["sign"] == "-" and total > 12 * 60):
        return ""
    return "UTC" if total == 0 else f"UTC{match['sign']}{hours:02d}:{minutes:02d}"
