"""Long polling that neither loses, floods the log nor gets stuck: PTB's own transport, three guards.

- Telegram forgets the updates a getUpdates call confirms (its offset), and python-telegram-bot sends
  that offset with the next call, at once, while the handlers still run: a process killed meanwhile would
  lose updates nobody handled (seen: presses lost by a SIGKILL, their users stuck on the screen). So a
  getUpdates call first waits until every update fetched before it was handled (its step committed); an
  update handled but not yet confirmed when the process dies comes again after the restart, and the
  runtime recognises it by its number (Runtime.handle's input_id).
- An update python-telegram-bot cannot parse (seen with an older self-hosted Bot API server) would make
  the poller fetch the same batch again forever, because the offset never moves past it. The getUpdates
  transport checks each update of a batch and replaces one that does not parse by its bare update_id (an
  update no handler matches), logged once: the offset moves on, nothing else is lost.
- A network problem while polling is one warning line, not PTB's default traceback at ERROR.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import HTTPXRequest, RequestData

log = logging.getLogger("stretchbot.telegram")

HANDLED_WAIT_SECONDS = 60.0  # PTB's calls in a handler time out after 10 s each; longer is a hang


class PollingRequest(HTTPXRequest):
    """PTB's HTTPXRequest for getUpdates: confirms only handled updates (`handled` is awaited first, for at
    most HANDLED_WAIT_SECONDS), and skips (with one log line each) updates that do not parse."""

    handled: Callable[[], Awaitable[None]] | None = None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        if self.handled is not None and url.endswith("/getUpdates"):
            try:
                await asyncio.wait_for(self.handled(), HANDLED_WAIT_SECONDS)
            except TimeoutError:  # a handler hangs: poll on (its update is confirmed) rather than stop serving
                log.warning("updates still being handled after %.0f s; polling on", HANDLED_WAIT_SECONDS)
        code, payload = await super().do_request(url, method, request_data, *args, **kwargs)
        if code != 200 or not url.endswith("/getUpdates"):
            return code, payload
        return code, skip_unparsable(payload)


def skip_unparsable(payload: bytes) -> bytes:
    """A getUpdates answer with every update PTB cannot parse replaced by its bare update_id."""
    try:
        answer = json.loads(payload)
        updates = answer.get("result")
    except (ValueError, AttributeError):
        return payload  # not JSON at all: PTB reports it as it would anyway
    if not isinstance(updates, list):
        return payload
    changed = False
    for index, update in enumerate(updates):
        try:
            Update.de_json(dict(update), None)
        except Exception as error:  # any parse failure: the shape is the server's, not ours to trust
            update_id = update.get("update_id") if isinstance(update, dict) else None
            if not isinstance(update_id, int):
                continue  # without an id there is no offset to move past: leave it to PTB
            log.warning("skipping Telegram update %s that cannot be read (%s)", update_id, type(error).__name__)
            updates[index] = {"update_id": update_id}
            changed = True
    return json.dumps(answer).encode() if changed else payload


def polling_error(error: TelegramError) -> None:
    """The Updater's error_callback: an expected network problem is one line, anything else a traceback."""
    if isinstance(error, (NetworkError, TimedOut)):
        log.warning("Telegram polling: %s (%s); retrying", type(error).__name__, error)
    else:
        log.error("Telegram polling failed", exc_info=error)
