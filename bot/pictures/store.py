"""The picture of each stretch, rendered on first use and kept on disk under its content hash.

A picture's digest covers everything that shapes its pixels (the pose, the title drawn on it, the
kind of file and the renderer's version), so a changed pose gets a new file and an unchanged one is
never drawn twice, across restarts and processes alike. The digest is also the key under which a
platform's upload id (Telegram's file_id) can be kept. Nothing is drawn when the store is created:
start-up stays as fast as before, and Pillow is imported only when a picture is first drawn.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from dialogs.content import Content
from dialogs.poses import Pose

# Bump when the drawing code changes what a pose looks like, so every cached file is drawn afresh.
RENDERER_VERSION = "1"
WIDTH, HEIGHT = 800, 600  # the size of every picture (bot/pictures/draw.py draws at this size)


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`${XDG_CACHE_HOME:-~/.cache}/stretchbot/pictures`."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stretchbot" / "pictures"


@dataclass(frozen=True)
class Picture:
    stretch_id: str
    path: Path  # the PNG or GIF on disk
    kind: Literal["photo", "animation"]  # photo: a PNG; animation: a looping GIF (Telegram sendAnimation)
    alt: str  # what the picture shows (content/poses.yaml), for screen readers and the console
    digest: str  # sha256 of everything drawn: the key to cache a platform's file id under
    width: int
    height: int
    keyframe: int | None = None  # for a still of one position of an animated stretch: which one (0, 1)


class PictureStore:
    """Pictures for every stretch in `content`, cached in `cache_dir`.

    `picture(id)` is the one to send: a GIF when the stretch moves between two positions, else a PNG.
    `still(id, k)` is a PNG of one position. Drawing takes 0.05-0.5 s the first time (call it off the
    event loop, or `render_all()` ahead); afterwards a lookup is a dictionary hit."""

    def __init__(self, content: Content, cache_dir: Path | None = None) -> None:
        self.content = content
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.renders = 0  # files this store has drawn (the others were found on disk)
        self._known: dict[tuple[str, int | None], Picture] = {}

    # --- lookups ------------------------------------------------------------------------------------
    def picture(self, stretch_id: str) -> Picture:
        """The stretch's picture: an animation if it has two keyframes, else a photo."""
        pose = self._pose(stretch_id)
        return self._get(stretch_id, None if pose.animated else 0)

    def still(self, stretch_id: str, keyframe: int = 0) -> Picture:
        """A PNG of one keyframe (position) of the stretch."""
        pose = self._pose(stretch_id)
        if not 0 <= keyframe < len(pose.keyframes):
            raise IndexError(f"{stretch_id} has {len(pose.keyframes)} keyframe(s), not {keyframe + 1}")
        return self._get(stretch_id, keyframe)

    def render_all(self, out_dir: Path | None = None) -> list[Picture]:
        """Every stretch's picture, and for an animated one a still of each position, in content order.

        With `out_dir` the files are also copied there with readable names (`cat_cow.gif`,
        `cat_cow-1.png`, ...) and the returned pictures point at those copies."""
        pictures: list[Picture] = []
        for stretch_id, pose in self.content.poses.items():
            pictures.append(self.picture(stretch_id))
            if pose.animated:
                pictures += [self.still(stretch_id, k) for k in range(len(pose.keyframes))]
        if out_dir is None:
            return pictures
        out_dir.mkdir(parents=True, exist_ok=True)
        copies = []
        for picture in pictures:
            suffix = "" if picture.keyframe is None else f"-{picture.keyframe + 1}"
            target = out_dir / f"{picture.stretch_id}{suffix}{picture.path.suffix}"
            shutil.copyfile(picture.path, target)
            copies.append(replace(picture, path=target))
        return copies

    # --- inside ---------------------------------------------------------------------------------------
    def _pose(self, stretch_id: str) -> Pose:
        try:
            return self.content.poses[stretch_id]
        except KeyError:
            raise KeyError(f"no picture for unknown stretch {stretch_id!r}") from None

    def digest(self, stretch_id: str, keyframe: int | None) -> str:
        """sha256 of everything that decides the file's bytes."""
        pose = self._pose(stretch_id)
        drawn = {
            "renderer": RENDERER_VERSION,
            "size": [WIDTH, HEIGHT],
            "kind": "animation" if keyframe is None else "photo",
            "keyframe": keyframe,
            "title": self.content.stretches[stretch_id].title,
            "pose": pose.model_dump(mode="json"),
        }
        return hashlib.sha256(json.dumps(drawn, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def _get(self, stretch_id: str, keyframe: int | None) -> Picture:
        known = self._known.get((stretch_id, keyframe))
        if known is not None:
            return known
        pose = self._pose(stretch_id)
        digest = self.digest(stretch_id, keyframe)
        kind: Literal["photo", "animation"] = "animation" if keyframe is None else "photo"
        path = self.cache_dir / f"{stretch_id}-{digest[:16]}.{'gif' if keyframe is None else 'png'}"
        if not path.is_file():
            self._write(path, self._draw(stretch_id, keyframe))
        picture = Picture(stretch_id, path, kind, pose.alt, digest, WIDTH, HEIGHT, keyframe if pose.animated else None)
        self._known[(stretch_id, keyframe)] = picture
        return picture

    def _draw(self, stretch_id: str, keyframe: int | None) -> bytes:
        from bot.pictures import render  # Pillow is imported on the first drawing, not at start-up

        self.renders += 1
        pose, title = self._pose(stretch_id), self.content.stretches[stretch_id].title
        return render.animation_gif(pose, title) if keyframe is None else render.still_png(pose, title, keyframe)

    def _write(self, path: Path, data: bytes) -> None:
        """Write whole or not at all: another process may be reading the cache or drawing the same file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
