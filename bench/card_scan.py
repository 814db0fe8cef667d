#!/usr/bin/env python
"""How long the card-number net (``stix.card_redaction``) takes over one long line of text.

Every free text at intake, every error message and every line of the report form's observables
box goes through ``holds_card`` / ``redact_cards``. One line of digit groups ("4111 4111 …", a
pasted log) is a single run of groups, the scan's worst case: before it was made linear (2026-11-30)
it copied the rest of the run for each group, 27 s for 400 KB. The scan must grow linearly with the
text: the time per MB stays the same from 100 KB to 4 MB.

    .venv/bin/python bench/card_scan.py                      # 100 KB, 400 KB, 1 MB, 4 MB
    .venv/bin/python bench/card_scan.py --sizes 20000 40000  # sizes in bytes
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from cert_share.stix.card_redaction import holds_card, redact_cards  # noqa: E402

TEXTS = {
    "'4111 ' repeated (Luhn-valid groups)": "4111 ",
    "'1234 ' repeated (no card)": "1234 ",
    "'4111-1111 ' Arabic-Indic digits": "٤١١١-١١١١ ",
    "'4111%20' URL-encoded": "4111%20",
}


def _time(fn, text: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(text)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 400_000, 1_000_000, 4_000_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}, load {os.getloadavg()[0]:.1f}")
    print(f"{'text':40} {'bytes':>9} {'holds_card s':>13} {'redact_cards s':>15} {'s per MB':>9}")
    for label, unit in TEXTS.items():
        for size in args.sizes:
            text = unit * (size // len(unit.encode()))
            held = _time(holds_card, text, args.runs)
            redacted = _time(redact_cards, text, args.runs)
            print(f"{label:40} {len(text.encode()):>9} {held:>13.3f} {redacted:>15.3f} "
                  f"{max(held, redacted) / (len(text.encode()) / 1e6):>9.2f}")


if __name__ == "__main__":
    main()
