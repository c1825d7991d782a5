"""Logging set-up (bot/logs.py): LOG_LEVEL and LOG_FORMAT checked as settings, JSON lines, and one line
without a traceback for an expected network error while a bug keeps its traceback."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot import ConfigError
from bot.logs import configure_logging


@pytest.fixture
def restore_root(restore_root_logger):
    """conftest's autouse fixture puts the root logger back after each test; named here for readability."""


def capture(restore_root, level="INFO", fmt="text", **options) -> io.StringIO:
    stream = io.StringIO()
    configure_logging(level, fmt, stream=stream, **options)
    return stream


@pytest.mark.parametrize(
    "setting, value, message",
    [
        (
            "level",
            "verbose",
            "LOG_LEVEL: 'verbose' is not a log level; use one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
        ),
        ("format", "xml", "LOG_FORMAT: 'xml' is not a log format; use text or json"),
    ],
)
def test_a_bad_setting_is_one_clear_line(restore_root, setting, value, message):
    with pytest.raises(ConfigError) as raised:
        configure_logging(value if setting == "level" else "INFO", value if setting == "format" else "text")
    assert str(raised.value) == message


def test_levels_are_case_insensitive_and_filter(restore_root):
    stream = capture(restore_root, " warning ")
    logging.getLogger("stretchbot.x").info("quiet")
    logging.getLogger("stretchbot.x").warning("loud")
    assert stream.getvalue().count("\n") == 1 and "WARNING stretchbot.x: loud" in stream.getvalue()


def test_json_lines_have_time_level_logger_message_and_exc_only_for_bugs(restore_root):
    stream = capture(restore_root, "INFO", "JSON")
    log = logging.getLogger("stretchbot.delivery")
    log.info("sent %d messages", 3)
    try:
        {}["missing"]
    except KeyError:
        log.exception("a bug")
    first, second = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert set(first) == {"time", "level", "logger", "message"}
    assert (first["level"], first["logger"], first["message"]) == ("INFO", "stretchbot.delivery", "sent 3 messages")
    assert first["time"].endswith("+00:00")
    assert second["message"] == "a bug" and "KeyError: 'missing'" in second["exc"] and "Traceback" in second["exc"]


class LibraryNetworkError(Exception):
    """Stands for a library's own network error class (telegram.error.NetworkError, aiohttp.ClientError)."""


@pytest.mark.parametrize(
    "error",
    [
        ConnectionResetError("Connection reset by peer"),
        LibraryNetworkError("httpx.ConnectError: [Errno 111] Connection refused"),
    ],
)
def test_an_expected_network_error_is_one_warning_line(restore_root, error):
    stream = capture(restore_root, "INFO", expected=(LibraryNetworkError,))
    try:
        raise error
    except Exception:
        logging.getLogger("telegram.ext.Updater").exception("Exception happened while polling for updates.")
    [line] = stream.getvalue().splitlines()
    assert "WARNING telegram.ext.Updater: Exception happened while polling for updates." in line
    assert type(error).__name__ in line and "Traceback" not in stream.getvalue()


def test_configuring_again_replaces_the_handler(restore_root):
    capture(restore_root)
    stream = capture(restore_root)
    logging.getLogger("stretchbot").warning("once")
    assert stream.getvalue().count("once") == 1
    assert sum(h.get_name() == "stretchbot" for h in logging.getLogger().handlers) == 1
