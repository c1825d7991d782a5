"""Measure 7: stretch pictures. Drawing every picture from an empty cache, the slowest single picture
(what a first user of a stretch waits for), lookups once drawn (in the same process and after a
restart), what creating the store costs at start-up, and the file sizes people download.

Targets: render all < 10 s, so `render-pictures` (or a deploy that warms the cache) stays interactive
on 2 cores; the slowest picture < 1.5 s, so the first person to reach a stretch still gets its
picture inside the 2 s a chat reply may take; a cached lookup < 1 ms, so sending a picture costs the
bot nothing once drawn; a lookup after a restart (hash the pose, find the file) < 5 ms; creating the
store < 5 ms with Pillow not imported, so start-up (measure 6) is unaffected; the largest file
< 250 KB, so a picture loads in about a second on a slow (2 Mbit/s) mobile connection.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, Result, fmt, median

from bot.pictures import PictureStore
from dialogs.content import load_content


def pillow_stays_out() -> bool:
    """In a fresh process: load content and create a store, as start-up would; is Pillow still unloaded?"""
    script = (
        "import sys; from dialogs.content import load_content; from bot.pictures import PictureStore; "
        "PictureStore(load_content()); print('PIL' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=str(ROOT), capture_output=True, text=True, check=True)
    return out.stdout.strip() == "False"


def run(quick: bool) -> list[Result]:
    content = load_content()
    rounds = 1 if quick else 3
    totals, slowest_each = [], []
    with tempfile.TemporaryDirectory(prefix="stretchbot-bench-pictures-") as tmp:
        for round_ in range(rounds):
            store = PictureStore(content, Path(tmp) / f"cache{round_}")
            began = time.perf_counter()
            slowest = 0.0
            for stretch_id, pose in content.poses.items():
                started = time.perf_counter()
                store.picture(stretch_id)
                slowest = max(slowest, time.perf_counter() - started)
                if pose.animated:
                    for keyframe in range(len(pose.keyframes)):
                        store.still(stretch_id, keyframe)
            totals.append(time.perf_counter() - began)
            slowest_each.append(slowest)
        pictures = store.render_all()
        count = len(pictures)

        lookups = 20_000 if not quick else 2_000
        ids = list(content.poses)
        began = time.perf_counter()
        for i in range(lookups):
            store.picture(ids[i % len(ids)])
        cached_us = (time.perf_counter() - began) / lookups * 1e6

        restarts = []
        for _ in range(5 if quick else 20):
            fresh = PictureStore(content, store.cache_dir)
            began = time.perf_counter()
            fresh.picture("cat_cow")
            restarts.append(time.perf_counter() - began)
            assert fresh.renders == 0
        restart_ms = median(restarts) * 1000

        sizes = [p.path.stat().st_size for p in pictures]
        largest_size, largest_name = max((p.path.stat().st_size, p.path.name) for p in pictures)

    began = time.perf_counter()
    for _ in range(100):
        PictureStore(content, Path(tmp) / "unused")
    create_ms = (time.perf_counter() - began) / 100 * 1000

    total, slowest = median(totals), median(slowest_each)
    return [
        Result(
            "pictures",
            f"render all {count} files from an empty cache (s)",
            f"{total:.2f}",
            "< 10 s",
            total < 10,
            f"median of {rounds}; {len(content.poses)} stretches, each animation with its 2 stills",
        ),
        Result(
            "pictures",
            "slowest single picture, first use (s)",
            f"{slowest:.2f}",
            "< 1.5 s",
            slowest < 1.5,
            "a looping GIF: 18 frames drawn at 3x and scaled down",
        ),
        Result(
            "pictures",
            "cached lookup, same process (µs)",
            fmt(cached_us, 1),
            "< 1,000",
            cached_us < 1000,
            f"{lookups:,} lookups",
        ),
        Result(
            "pictures",
            "lookup after a restart: hash + find the file (ms)",
            f"{restart_ms:.2f}",
            "< 5",
            restart_ms < 5,
            "median; nothing redrawn",
        ),
        Result(
            "pictures",
            "create the store at start-up (ms)",
            f"{create_ms:.3f}",
            "< 5",
            create_ms < 5,
            "draws nothing; " + ("Pillow not imported" if pillow_stays_out() else "but it imports Pillow"),
        ),
        Result(
            "pictures",
            "largest file (KB)",
            fmt(largest_size / 1024),
            "< 250",
            largest_size < 250 * 1024,
            f"{largest_name.split('-')[0]}; all {count} files together {sum(sizes) / 1024:,.0f} KB",
        ),
    ]
