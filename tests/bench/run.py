"""Run the benchmark suite and print one table: `python tests/bench/run.py [--quick] [--only NAME]`.

Not collected by pytest (pyproject's norecursedirs has "bench"). Each line is one figure; lines with a
target say "met" or "NOT met". The default run takes about 10 minutes on 2 cores, --quick about 3. The
header's load and speed lines say how busy the machine was: figures from a busy machine are slower.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import Result, machine_lines

MEASURES = {  # name -> module with run(quick) -> list[Result]
    "engine": "bench_engine",
    "telegram": "bench_telegram",
    "timers": "bench_timers",
    "fanout": "bench_fanout",
    "memory": "bench_memory",
    "startup": "bench_startup",
    "progress": "bench_progress",
    "pictures": "bench_pictures",
    "understanding": "bench_understanding",
    "outbox": "bench_outbox",
}


def table(results: list[Result]) -> str:
    headers = ("measure", "figure", "value", "target", "")
    rows = [(r.measure, r.figure, r.value, r.target, r.verdict) for r in results]
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    line = lambda row: "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |"  # noqa: E731
    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]
    notes = [f"- {r.measure} / {r.figure}: {r.note}" for r in results if r.note]
    return "\n".join(out + (["", *notes] if notes else []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats (about 3 minutes)")
    parser.add_argument("--only", action="append", choices=list(MEASURES), help="run only this measure")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    results: list[Result] = []
    started = time.perf_counter()
    for name in args.only or MEASURES:
        began = time.perf_counter()
        print(f"running {name}...", file=sys.stderr, flush=True)
        try:
            results += importlib.import_module(MEASURES[name]).run(args.quick)
        except Exception as error:  # one broken measure must not hide the others
            traceback.print_exc()
            results.append(Result(name, "could not run", type(error).__name__, "(see log)", False, str(error)[:200]))
        print(f"  {name}: {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)
    print("\n".join(machine_lines()))
    print(f"run:     {'--quick' if args.quick else 'default'}, {time.perf_counter() - started:.0f} s\n")
    print(table(results))
    return 0 if all(r.met is not False for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
