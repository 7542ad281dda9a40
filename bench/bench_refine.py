"""Latent refinement: steps -> reconstruction accuracy and seconds (README, "Refinement").

    python bench/bench_refine.py [--steps 0 10 20 30 50] [--runs 5] [--tf-steps 20] [--limit N] [--out FILE]
        [--skip-timing] [--skip-accuracy]

Accuracy: `muse eval --refine N`'s reconstruction figures (:func:`muse_cli.evaluate.evaluate` on the
whole held-out test split, NumPy engine): step and note-on accuracy on all windows and on the windows
with sixteenths and with syncopation. Time: median wall and CPU (user + system) seconds of a cold
`muse encode tests/data/folk_16bar.mid --refine N` process, 16 bars = 8 windows, NumPy engine; with
--tf-steps, the same command on the magenta engine (the gradient from TensorFlow) beside it, runs
alternating so that a busy machine slows both alike. The load average is recorded with each timing:
on a shared machine wall time is CPU time plus waiting.

Each result is one JSON line appended to --out and skipped when already there (an interrupted run
resumes); a Markdown table at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from muse_cli.cpu import choose_openblas_kernel

choose_openblas_kernel()  # as the muse command does, before NumPy loads
import numpy as np  # noqa: E402

BIN = Path(sys.executable).parent
MUSE = str(BIN / "muse")
REPO = Path(__file__).resolve().parent.parent
TUNE = REPO / "tests" / "data" / "folk_16bar.mid"


def cold_encode(steps: int, engine: str, out: Path) -> tuple[float, float]:
    """(wall, CPU seconds) of one fresh `muse encode` of the 16-bar tune."""
    cmd = [MUSE, "encode", str(TUNE), "--refine", str(steps), "-o", str(out), "--force"]
    t = time.perf_counter()
    p = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "MUSE_ENGINE": engine}
    )
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    err = p.stderr.read().decode()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def timing(steps: int, runs: int, engines: list[str]) -> dict:
    got: dict[str, list] = {e: [] for e in engines}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(runs):
            for e in engines:
                got[e].append(cold_encode(steps, e, Path(tmp) / f"{e}{r}.npz"))
    row = {"kind": "time", "steps": steps, "runs": runs, "load": round(os.getloadavg()[0], 1)}
    for e in engines:
        row[f"{e} wall s"] = round(statistics.median(w for w, _ in got[e]), 2)
        row[f"{e} cpu s"] = round(statistics.median(c for _, c in got[e]), 2)
    return row


def accuracy(model, steps: list[int], limit: int | None) -> list[dict]:
    """`muse eval --refine N`'s reconstruction figures for every N in ``steps``: the same windows, scores
    and refinement as :func:`muse_cli.evaluate.evaluate`, with every N taken from one Adam run."""
    from muse_cli.evaluate import load_test_windows, rhythm_classes, scores
    from muse_cli.refine import refine_each

    t = time.perf_counter()
    windows = load_test_windows()
    if limit:
        windows = windows[np.random.default_rng(0).permutation(len(windows))[:limit]]
    classes = rhythm_classes(windows)
    mu, _ = model.encode_events(windows)
    rows = []
    for s, z in refine_each(model, windows, mu, steps).items():
        rec = scores(windows, model.decode_events(z), classes)
        row = {"kind": "accuracy", "steps": s, "windows": len(windows)}
        row.update(step=round(rec["step_accuracy"], 3), note_on=round(rec["note_on_accuracy"], 3))
        row.update(exact=round(rec["exact_windows"], 3))
        for name in ("sixteenths", "syncopation"):
            c = rec["by_class"][name]
            row[name] = f"{c['step_accuracy']:.3f} / {c['note_on_accuracy']:.3f} ({c['windows']})"
        rows.append(row)
    for row in rows:
        row["seconds, all step counts"] = round(time.perf_counter() - t, 1)
    return rows


def table(rows: list[dict], steps: list[int]) -> str:
    acc = {r["steps"]: r for r in rows if r["kind"] == "accuracy"}
    tim = {r["steps"]: r for r in rows if r["kind"] == "time"}
    head = (
        "| steps | step | note-on | exact | sixteenths step / note-on | syncopation step / note-on "
        "| cold encode, NumPy: wall / CPU s | magenta (TensorFlow): wall / CPU s |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for s in steps:
        a, t = acc.get(s, {}), tim.get(s, {})

        def cell(engine, t=t):
            return f"{t[engine + ' wall s']} / {t[engine + ' cpu s']}" if engine + " wall s" in t else ""

        lines.append(
            f"| {s} | {a.get('step', '')} | {a.get('note_on', '')} | {a.get('exact', '')} | {a.get('sixteenths', '')} "
            f"| {a.get('syncopation', '')} | {cell('numpy')} | {cell('magenta')} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, nargs="+", default=[0, 10, 20, 30, 50])
    ap.add_argument("--runs", type=int, default=5, help="cold processes per timing")
    ap.add_argument("--tf-steps", type=int, nargs="*", default=[20], help="step counts timed on magenta too")
    ap.add_argument("--limit", type=int, default=None, help="test windows (default: all)")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--skip-timing", action="store_true")
    ap.add_argument("--out", type=Path, default=REPO / "build" / "bench_refine.jsonl")
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in args.out.read_text().splitlines()] if args.out.exists() else []
    done = {(r["kind"], r["steps"]) for r in rows}

    def keep(row: dict) -> None:
        print(json.dumps(row), flush=True)
        rows.append(row)
        with args.out.open("a") as f:
            f.write(json.dumps(row) + "\n")

    for s in [] if args.skip_timing else args.steps:
        if ("time", s) not in done:
            keep(timing(s, args.runs, ["numpy", "magenta"] if s in args.tf_steps else ["numpy"]))
    if not args.skip_accuracy:
        from muse_cli.model import load_model

        todo = [s for s in args.steps if ("accuracy", s) not in done]
        if todo:
            for row in accuracy(load_model(None, engine="numpy"), todo, args.limit):
                keep(row)
    print(table(rows, args.steps))


if __name__ == "__main__":
    main()
