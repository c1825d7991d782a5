"""Encode poses as files: one keyframe as a PNG, two keyframes as a short looping GIF.

Both are deterministic (same pose, same bytes): no timestamps or other metadata go into the files, and
the GIF's palette is computed from the drawing itself. A GIF is what Telegram's sendAnimation plays
(it converts it to a silent loop) and what Discord shows inline, with no video encoder needed here.
"""

from __future__ import annotations

import io

from PIL import Image

from bot.pictures.draw import draw_frame
from dialogs.poses import Pose, between

# The movement: hold the first position, ease into the second, hold it, ease back. Slow, like the
# stretch itself ("move slowly between the two positions"): about 4.4 s per round.
HOLD_MS = 1200
TWEEN_FRAMES = 8  # in-between frames each way
TWEEN_MS = 120
GIF_COLOURS = 64  # flat colours and their anti-aliased edges fit easily; fewer colours, smaller file


def _ease(t: float) -> float:
    """Slow out of one position and slow into the next (smoothstep)."""
    return t * t * (3 - 2 * t)


def keyframe_image(pose: Pose, title: str, index: int) -> Image.Image:
    keyframe = pose.keyframes[index]
    return draw_frame(pose, keyframe.figures, [a.points for a in keyframe.arrows], title, keyframe.caption)


def still_png(pose: Pose, title: str, index: int = 0) -> bytes:
    """One keyframe as a PNG (800x600, RGB)."""
    out = io.BytesIO()
    keyframe_image(pose, title, index).save(out, format="PNG", optimize=True)
    return out.getvalue()


def animation_frames(pose: Pose, title: str) -> list[tuple[Image.Image, int]]:
    """The frames of the loop and how long each shows (ms). Arrows show only while a position is held,
    so they never jump about mid-movement; the caption is the one of the position being approached."""
    first, second = pose.keyframes
    frames = [(keyframe_image(pose, title, 0), HOLD_MS)]
    for start, end, leaving in ((first, second, 0), (second, first, 1)):
        for step in range(1, TWEEN_FRAMES + 1):
            t = _ease(step / (TWEEN_FRAMES + 1))
            figures = [between(a, b, t, pose.view) for a, b in zip(start.figures, end.figures, strict=True)]
            frames.append((draw_frame(pose, figures, [], title, end.caption), TWEEN_MS))
        if leaving == 0:
            frames.append((keyframe_image(pose, title, 1), HOLD_MS))
    return frames


def animation_gif(pose: Pose, title: str) -> bytes:
    """Two keyframes as a looping GIF (800x600) with eased in-between frames."""
    frames = animation_frames(pose, title)
    # one palette for every frame (from both held positions, which hold every colour in the picture), so
    # colours never flicker between frames and unchanged areas stay byte-identical (small frame deltas)
    held = [image for image, duration in frames if duration == HOLD_MS]
    sample = Image.new("RGB", (held[0].width, held[0].height * len(held)))
    for i, image in enumerate(held):
        sample.paste(image, (0, i * image.height))
    palette = sample.quantize(colors=GIF_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    indexed = [image.quantize(palette=palette, dither=Image.Dither.NONE) for image, _ in frames]
    out = io.BytesIO()
    indexed[0].save(
        out,
        format="GIF",
        save_all=True,
        append_images=indexed[1:],
        duration=[duration for _, duration in frames],
        loop=0,
        disposal=1,
        optimize=False,
    )
    return out.getvalue()
