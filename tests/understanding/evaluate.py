"""Evaluate the reader on the labelled corpus: `python tests/understanding/evaluate.py [--misses]`.

Prints, for the tuning corpus and the held-out part separately: precision and recall per reading kind,
the confusions (expected -> read), recall per corpus class, and the safety figures the tests require
(recall on pain now and emergencies present, negated emergencies read as emergencies, false stops).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
for _path in (str(HERE.parents[1]), str(HERE)):  # the project, and this folder's helpers
    if _path not in sys.path:
        sys.path.insert(0, _path)

from corpus import Case, agrees, false_stop, kind, load  # noqa: E402  (needs the path above)

from dialogs.content import load_content  # noqa: E402
from dialogs.understanding import Emergency, Reader, Reading  # noqa: E402


def read_all(reader: Reader, cases: list[Case]) -> list[tuple[Case, Reading]]:
    return [(case, reader.read(case.text, case.expectation)) for case in cases]


def safety(results: list[tuple[Case, Reading]]) -> dict[str, tuple[int, int]]:
    """name -> (count, out of): the figures the tests hold the reader to."""
    pain = [(c, r) for c, r in results if c.cls == "pain_now"]
    emergency = [(c, r) for c, r in results if c.cls == "emergency_present"]
    negated = [(c, r) for c, r in results if c.cls == "negated"]
    rest = [(c, r) for c, r in results if c.expect not in ("pain", "emergency")]
    return {
        "pain now read as pain": (sum(agrees(r, c) for c, r in pain), len(pain)),
        "emergency present read as that emergency": (sum(agrees(r, c) for c, r in emergency), len(emergency)),
        "negated read as an emergency": (sum(isinstance(r, Emergency) for _, r in negated), len(negated)),
        "false stops on the rest": (sum(false_stop(r, c) for c, r in rest), len(rest)),
    }


def report(title: str, results: list[tuple[Case, Reading]], misses: bool) -> str:
    lines = [f"== {title}: {len(results)} utterances, {sum(agrees(r, c) for c, r in results)} read as labelled"]
    expected = Counter(c.expect for c, _ in results)
    got = Counter(kind(r) for _, r in results)
    right = Counter(c.expect for c, r in results if agrees(r, c))
    lines.append(f"{'reading':16} {'labelled':>8} {'read':>6} {'right':>6} {'precision':>9} {'recall':>7}")
    for name in sorted(set(expected) | set(got)):
        precision = right[name] / got[name] if got[name] else float("nan")
        recall = right[name] / expected[name] if expected[name] else float("nan")
        lines.append(f"{name:16} {expected[name]:8} {got[name]:6} {right[name]:6} {precision:9.1%} {recall:7.1%}")
    by_class = Counter(c.cls for c, _ in results)
    class_right = Counter(c.cls for c, r in results if agrees(r, c))
    lines.append(
        "corpus class recall: " + ", ".join(f"{name} {class_right[name]}/{by_class[name]}" for name in sorted(by_class))
    )
    confusions = Counter((c.expect, kind(r)) for c, r in results if not agrees(r, c))
    lines.append(
        "confusions (labelled -> read): "
        + (", ".join(f"{a} -> {b} x{n}" for (a, b), n in confusions.most_common()) or "none")
    )
    for name, (count, total) in safety(results).items():
        share = count / total if total else 0.0
        lines.append(f"  {name}: {count}/{total} ({share:.1%})")
    if misses:
        for case, reading in results:
            if not agrees(reading, case):
                lines.append(
                    f"  MISS {case.file}:{case.screen}:{case.topic} {case.text[-70:]!r} "
                    f"expected {case.expect} {case.value or ''} {case.answer or ''} got {reading}"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--misses", action="store_true", help="list every utterance not read as labelled")
    args = parser.parse_args(argv)
    content = load_content()
    reader = Reader(content.phrases, content.places)
    results = read_all(reader, load())
    tuning = [(c, r) for c, r in results if not c.heldout]
    heldout = [(c, r) for c, r in results if c.heldout]
    print(report("tuning corpus", tuning, args.misses))
    print()
    heldout_title = "held-out (written apart from the lexicon; first, untuned figures in docs/understanding.md)"
    print(report(heldout_title, heldout, args.misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
