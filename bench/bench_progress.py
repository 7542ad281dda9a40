"""What the one progress display costs a command's start: click's bar against tqdm.

    python bench/bench_progress.py [--runs 15]

Each variant is a fresh interpreter importing what it needs to draw a bar, timed side by side in
this one run (median of --runs, alternating). `click` is what every muse command imports anyway;
`click + tqdm` is what a tqdm bar would add to it; `muse_cli.progress` is the module muse uses.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

VARIANTS = {
    "python": "pass",
    "click": "import click, click.termui",
    "click + muse_cli.progress": "import click, muse_cli.progress",
    "click + tqdm": "import click, tqdm",
    "click + platformdirs": "import click, platformdirs",
    "click + filelock": "import click, filelock",
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    runs = ap.parse_args().runs
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(runs):
        for name, code in VARIANTS.items():
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            times[name].append(time.perf_counter() - t)
    base = statistics.median(times["click"])
    print(f"start-up, median of {runs} runs ({sys.executable}):")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:<28} {med * 1000:6.1f} ms   {(med - base) * 1000:+6.1f} ms against click alone")


if __name__ == "__main__":
    main()
