"""What an outbox body looks like when it is sent: the views, rendered now from content and the database.

The runtime queues data (bot/runtime.py: a message as lines and a screen, an export, a progress report);
a transport asks `Outgoing.views(body)` just before it sends, so a content fix, the latest figures and the
pictures on disk are what the user gets. Pictures are drawn on first use (Pillow, in a thread) and then
served from their cache; charts are drawn for each report.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bot.clock import Clock
from bot.storage import FeedbackRow, HistoryRow, Storage, UserKey
from dialogs.adaptation import Rating
from dialogs.content import Content
from dialogs.events import Line, MessageKind, Notice, Outcome, message_from_data
from dialogs.mydata import export_file, plain_lines
from dialogs.progress import FeedbackRecord, SessionRecord, summarize
from dialogs.progress_text import progress_text, text_chart, weekly_text
from dialogs.render import Renderer
from dialogs.views import Attachment, MessageView, TextPart

if TYPE_CHECKING:
    from bot.pictures import PictureStore

log = logging.getLogger("stretchbot.outgoing")

EXPORT_FILENAME = "stretchbot-mydata.json"
CHART_FILENAME = "stretchbot-progress.png"
Body = Mapping[str, Any]


class Outgoing:
    def __init__(self, storage: Storage, renderer: Renderer, content: Content, clock: Clock,
                 pictures: PictureStore | None = None) -> None:
        self.storage, self.renderer, self.content, self.clock = storage, renderer, content, clock
        self.pictures = pictures  # None: no stretch pictures in this process (e.g. the benchmarks)

    async def views(self, body: Body) -> list[MessageView]:
        """The messages a body stands for (one, or the words and then the file or picture)."""
        if "say" in body:
            view = self.renderer.render(message_from_data(body["say"]))
            return [await self._with_picture(view)]
        if "notice" in body:
            notice = body["notice"]
            return [replace(self.renderer.notice(Notice(Line(notice["key"], notice.get("params") or {}))),
                            kind="message")]
        key = UserKey(*body["user"])
        if body.get("export"):
            return await self._export(key)
        if "progress" in body:
            return await self._progress(key, bool(body["progress"].get("weekly")))
        raise ValueError(f"an outbox body this version cannot show: {sorted(body)}")

    # ---- pictures ---------------------------------------------------------------------------------
    async def _with_picture(self, view: MessageView) -> MessageView:
        attachment = view.attachment
        if attachment is None or attachment.path or attachment.data or attachment.kind == "file":
            return view
        if self.pictures is None:
            return replace(view, attachment=None)
        try:
            picture = await asyncio.to_thread(self.pictures.picture, attachment.name)
        except Exception:  # a picture is never needed to follow a stretch: the words say everything
            log.exception("drawing the picture of %s failed; sending the words only", attachment.name)
            return replace(view, attachment=None)
        return replace(view, attachment=Attachment(
            "animation" if picture.kind == "animation" else "picture", picture.path.name, path=str(picture.path),
            digest=picture.digest, alt=picture.alt, mime="image/gif" if picture.kind == "animation" else "image/png"))

    # ---- /mydata ----------------------------------------------------------------------------------
    async def _export(self, key: UserKey) -> list[MessageView]:
        export = await self.storage.export_user(key)
        words = [part for line in plain_lines(export) for part in self.renderer.line(line)]
        body = json.dumps(export_file(export), indent=2, ensure_ascii=False, default=str).encode()
        return [MessageView("message", tuple(words)),
                MessageView("message", (TextPart(self.renderer.text("mydata_file")),),
                            attachment=Attachment("file", EXPORT_FILENAME, data=body, mime="application/json"))]

    # ---- /progress and the weekly summary -----------------------------------------------------------
    async def _progress(self, key: UserKey, weekly: bool) -> list[MessageView]:
        history, feedback, loaded = await asyncio.gather(self.storage.history(key), self.storage.feedback(key),
                                                         self.storage.load(key))
        zone = _zone_of(loaded.state_json)
        summary = summarize([_session(row) for row in history], [_rating(row) for row in feedback],
                            self.clock.now(), zone)
        words = self.content.progress
        text = weekly_text(summary, words) if weekly else progress_text(summary, words)
        from bot.pictures.chart import render_chart  # here: Pillow only for the processes that draw charts

        chart = await asyncio.to_thread(render_chart, summary.series, words.chart)
        kind: MessageKind = "reminder" if weekly else "message"
        return [MessageView(kind, tuple(TextPart(paragraph) for paragraph in text.split("\n\n") if paragraph),
                            marker=self.content.wording.marker(kind),
                            attachment=Attachment("picture", CHART_FILENAME, data=chart, mime="image/png",
                                                  alt=text_chart(summary.series, words.chart)))]


OUTCOMES: dict[str, Outcome] = {"completed": "completed", "stopped": "stopped", "referral": "referral"}
RATINGS: dict[str, Rating] = {"good": "good", "tight": "tight", "pain": "pain", "skipped": "skipped"}


def _session(row: HistoryRow) -> SessionRecord:
    return SessionRecord(row.ended_at, OUTCOMES.get(row.outcome, "stopped"), row.routine, row.stretches_done,
                         row.seconds, row.score_before, row.score_after, stopped_for_pain=row.level == "pain")


def _rating(row: FeedbackRow) -> FeedbackRecord:
    return FeedbackRecord(row.at, row.routine, row.stretch, RATINGS.get(row.rating, "skipped"), row.hold_seconds)


def _zone_of(state_json: str | None) -> str | None:
    if not state_json:
        return None
    try:
        zone = json.loads(state_json).get("profile", {}).get("timezone")
    except ValueError:
        return None
    return zone if isinstance(zone, str) else None
