"""python -m sources.synthetic --landing DIR --from 2025-01 --to 2025-12 [--scale 1.0] [--seed N]"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .generate import generate_region
from .months import month_range


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sources.synthetic", description=__doc__)
    p.add_argument("--landing", type=Path, required=True, help="landing folder to write")
    p.add_argument("--from", dest="first", required=True, help="first month YYYY-MM")
    p.add_argument("--to", dest="last", help="last month YYYY-MM (default: --from)")
    p.add_argument("--scale", type=float, default=1.0, help="1.0 = one region, ~37 = Sweden")
    p.add_argument("--seed", type=int, default=20250101)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    start = time.perf_counter()
    summary = generate_region(a.landing, month_range(a.first, a.last or a.first), a.scale, a.seed,
                              verbose=not a.quiet)
    for name, rows in summary.items():
        print(f"{rows:>12,}  {name}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
