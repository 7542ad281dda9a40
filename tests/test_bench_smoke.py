"""Every benchmark of `make bench` runs to its end with tiny sizes (`make bench-smoke`), so none can break
silently again. Only that it completes and prints its results is checked here; the numbers come from
`make bench` at full size."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# script -> tiny arguments (each the bench's own size options)
SMOKE = {
    "bench_core.py": ["--runs", "1", "--n", "2"],
    "bench_engine.py": ["--runs", "1", "--n", "2", "--skip-big"],
    "bench_vary.py": ["--sources", "2", "--variations", "2"],
    "bench_progress.py": ["--runs", "1"],
    "bench_show.py": ["--runs", "1"],
    "bench_form.py": ["--pieces", "2", "--tunes", "no-corpus-here.json.gz"],
    "bench_keytempo.py": ["--num", "1"],
    "bench_attrs.py": ["--num", "2", "--seeds", "1", "--report-only"],
    "bench_batch.py": ["--samples", "4", "--renders", "2", "--skip", "2"],
    "bench_prompt.py": ["--runs", "1", "--warm", "1", "--captions", "4"],
    "bench_conductor.py": ["--cold", "1"],
    "bench_family_engines.py": ["--rows", "4", "--config", "nade-drums_2bar_full", "groovae_2bar_humanize"],
    "bench_style.py": ["--tunes", "{corpus}", "--collection", "smoke", "--fit", "6", "--pieces", "6"],
    "bench_refine.py": [
        "--steps",
        "0",
        "2",
        "--limit",
        "16",
        "--runs",
        "1",
        "--tf-steps",
        "--out",
        "refine.jsonl",
    ],  # its tables need the parsed corpus (make bench makes it)
}


def _corpus(tmp_path: Path) -> Path:
    """A tiny corpus file of one collection ("smoke"): a real 16-bar folk tune in 12 transpositions, half of them
    in the training split and half held out, in the corpus's own format (notes in quarters)."""
    from muse_cli.midi import read_melody
    from muse_cli.training.corpus import save_tunes

    melody = read_melody((REPO / "tests" / "data" / "folk_16bar.mid").read_bytes(), "folk_16bar.mid")
    tunes = []
    for k in range(12):
        notes = [[p + k - 6, s / 4, e / 4] for p, s, e in melody.notes]
        split = "train" if k % 2 else "test"
        tunes.append({"id": f"smoke/{k}", "collection": "smoke", "meter": "4/4", "meters": ["4/4"], "notes": notes})
        tunes[-1].update(split=split, bar_quarters=4.0)
    path = tmp_path / "smoke.json.gz"
    save_tunes(tunes, path)
    return path


def test_every_bench_has_a_smoke_run():
    assert sorted(SMOKE) == sorted(p.name for p in (REPO / "bench").glob("bench_*.py"))


@pytest.mark.parametrize("script", sorted(SMOKE))
def test_bench_runs_to_the_end(script, tmp_path):
    env = {**os.environ, "MUSE_HOME": str(tmp_path / "home")}
    args = [a.replace("{corpus}", str(_corpus(tmp_path))) if a == "{corpus}" else a for a in SMOKE[script]]
    p = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args],
        cwd=tmp_path,
        capture_output=True,
        env=env,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr.decode()[-3000:]
    assert p.stdout.decode().strip(), f"{script} printed no results"
    # (stderr is not checked for tracebacks: Dask's own shutdown sometimes logs one after a good run)
