"""Logging set-up for every command: LOG_LEVEL and LOG_FORMAT (text or json) checked like any other setting,
and expected network errors kept to one line.

A traceback is for bugs. A library that logs an expected network error with its traceback (python-telegram-
bot's poller does, at ERROR, for every failed getUpdates) gets one WARNING line naming the error instead;
anything else keeps its traceback. With LOG_FORMAT=json every record is one JSON object on one line:
time, level, logger, message, and exc (the traceback) only when there is one.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

from bot import ConfigError

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# what a network problem looks like from the standard library; callers add their libraries' own
# (aiohttp.ClientError, httpx.TransportError, telegram.error.NetworkError...)
NETWORK_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


class OneLineNetworkErrors(logging.Filter):
    """A record carrying an expected network error loses its traceback: one WARNING line naming the error."""

    def __init__(self, expected: tuple[type[BaseException], ...]) -> None:
        super().__init__()
        self.expected = expected

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is None or not isinstance(error, self.expected):
            return True
        detail = " ".join(str(error).split()) or "no detail"
        record.msg, record.args = f"{record.getMessage()} ({type(error).__name__}: {detail})", None
        record.exc_info, record.exc_text = None, None
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def parse_level(value: str) -> int:
    name = value.strip().upper()
    if name not in LEVELS:
        raise ConfigError(f"LOG_LEVEL: {value!r} is not a log level; use one of {', '.join(LEVELS)}")
    return int(getattr(logging, name))


def parse_format(value: str) -> str:
    name = value.strip().lower()
    if name not in FORMATS:
        raise ConfigError(f"LOG_FORMAT: {value!r} is not a log format; use text or json")
    return name


def configure_logging(
    level: str = "WARNING",
    fmt: str = "text",
    *,
    stream: TextIO | None = None,
    expected: tuple[type[BaseException], ...] = (),
) -> logging.Handler:
    """Send every log record to `stream` (stderr) at `level` and above, as text or JSON lines.

    Raises ConfigError (one line) for a bad level or format. Replaces the handler a previous call
    installed, so calling it again (tests, a second command in one process) never doubles lines.
    `expected`: more exception types that are ordinary network trouble (see OneLineNetworkErrors)."""
    numeric = parse_level(level)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if parse_format(fmt) == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(OneLineNetworkErrors(NETWORK_ERRORS + expected))
    handler.set_name("stretchbot")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "stretchbot"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    return handler
