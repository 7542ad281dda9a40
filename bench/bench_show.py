"""What a piano roll costs (make bench): cold `muse show` as text and as PNG, and `--png` on `muse sample`.

    python bench/bench_show.py [--runs 5]

Cold means a fresh `muse` process, as a shell loop runs it; the cases alternate run by run and each row is
the median wall time and peak RSS. The PNG pays for importing matplotlib (only `muse show -o` and `--png`
load it); "import matplotlib" alone is measured the same way. Warm: one roll drawn again in this process.
The melody is `muse sample --seconds 16 --seed 1` (8 bars).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_engine import MUSE, run  # one process's wall time and peak RSS

PY = str(Path(sys.executable).parent / "python")


def cases() -> list[tuple[str, list[str]]]:
    return [
        ("muse --help (start-up)", [MUSE, "--help"]),
        ("muse show tune.mid (text roll)", [MUSE, "show", "tune.mid"]),
        ("muse show tune.mid -o roll.png", [MUSE, "show", "tune.mid", "-o", "roll.png", "--force"]),
        ("python -c 'import matplotlib (Agg, Figure)'", [PY, "-c", "import matplotlib.backends.backend_agg"]),
        ("muse sample --seconds 16", [MUSE, "sample", "--seconds", "16", "--seed", "1", "-o", "s.mid", "--force"]),
        (
            "muse sample --seconds 16 --png",
            [MUSE, "sample", "--seconds", "16", "--seed", "1", "-o", "p.mid", "--png", "--force"],
        ),
    ]


def warm(tune: bytes, repeat: int = 20) -> dict:
    from muse_cli.show import piano_roll_png, read_roll, text_roll

    roll = read_roll(tune, "tune.mid")
    piano_roll_png(roll)  # matplotlib imported and its fonts loaded
    out = {}
    for name, draw in (("piano_roll_png", piano_roll_png), ("text_roll", text_roll)):
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            draw(roll)
            times.append(time.perf_counter() - t)
        out[f"{name} warm median ms"] = round(1000 * statistics.median(times), 1)
    out["png bytes"] = len(piano_roll_png(roll))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run([MUSE, "sample", "--seconds", "16", "--seed", "1", "-o", "tune.mid"], cwd=folder)
        todo = cases()
        for _, cmd in todo:  # once each first: page cache and matplotlib's font cache warm
            run(cmd, cwd=folder)
        results: dict[str, list] = {name: [] for name, _ in todo}
        for _ in range(args.runs):
            for name, cmd in todo:
                results[name].append(run(cmd, cwd=folder))
        rows = []
        for name, got in results.items():
            wall = statistics.median(w for w, _ in got)
            rss = statistics.median(m for _, m in got)
            rows.append({"case": name, "median s": round(wall, 3), "peak MB": round(rss), "runs": args.runs})
            print(json.dumps(rows[-1]), flush=True)
        print(json.dumps(warm((Path(folder) / "tune.mid").read_bytes())), flush=True)
    print("\n| case (cold process, median) | wall | peak RSS |\n|---|---|---|")
    for row in rows:
        print(f"| `{row['case']}` | {row['median s']:.2f} s | {row['peak MB']} MB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
