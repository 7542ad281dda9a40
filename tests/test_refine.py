"""Latent refinement (muse encode --refine, muse eval --refine) and eval's rhythm classes."""

from __future__ import annotations

import numpy as np
from conftest import DATA

from muse_cli import model as m
from muse_cli.encoding import HOLD, NOTE_OFF
from muse_cli.evaluate import evaluate, load_test_windows, rhythm_classes
from muse_cli.refine import refine


def _window(notes):
    """An event array from (pitch, start, end) steps."""
    ev = np.full(32, HOLD, np.int64)
    for p, s, e in notes:
        ev[s] = p - 21 + 2
        if e < 32 and ev[e] == HOLD:
            ev[e] = NOTE_OFF
    return ev


def test_rhythm_classes_find_sixteenths_syncopation_and_leaps():
    plain = _window([(60, 0, 4), (62, 4, 8), (64, 8, 16), (65, 16, 32)])
    sixteenth = _window([(60, 0, 1), (62, 4, 8)])
    off_grid = _window([(60, 3, 4)])
    syncopated = _window([(60, 0, 2), (62, 2, 6), (64, 8, 12)])  # the 2nd note starts off the beat, held over it
    leap = _window([(48, 0, 4), (67, 4, 8)])
    masks = rhythm_classes(np.stack([plain, sixteenth, off_grid, syncopated, leap]))
    assert masks["sixteenths"].tolist() == [False, True, True, False, False]
    assert masks["syncopation"].tolist() == [False, False, False, True, False]
    assert masks["leaps"].tolist() == [False, False, False, False, True]


def test_refinement_starts_at_mu_and_reconstructs_better():
    model = m.load_model(None)
    windows = load_test_windows()[::28][:64]
    mu, _ = model.encode_events(windows)
    assert np.array_equal(refine(model, windows, mu, 0), mu)
    z = refine(model, windows, mu, 30)
    before = np.mean(model.decode_events(mu) == windows)
    after = np.mean(model.decode_events(z) == windows)
    assert after > before and after >= 0.95, (before, after)


def test_eval_reports_refined_and_per_class_figures():
    r = evaluate(m.load_model(None), limit=120, samples=16, refine_steps=10)
    for part in (r["reconstruction"], r["refined"]):
        assert set(part["by_class"]) == {"sixteenths", "syncopation", "leaps"}
        assert all(0 <= c["step_accuracy"] <= 1 for c in part["by_class"].values())
    assert r["refined"]["steps"] == 10
    assert r["refined"]["step_accuracy"] > r["reconstruction"]["step_accuracy"]


def test_encode_refine_cli(muse, tmp_path):
    tune = DATA / "folk_16bar.mid"
    p = muse("encode", tune, "--refine", 5, "-o", tmp_path / "r.npz")
    assert p.returncode == 0, p.stderr.decode()
    z = np.load(tmp_path / "r.npz")["z"]
    plain = muse("encode", tune, "-o", tmp_path / "p.npz")
    assert plain.returncode == 0 and z.shape == np.load(tmp_path / "p.npz")["z"].shape
    assert not np.allclose(z, np.load(tmp_path / "p.npz")["z"])
    bad = muse("encode", tune, "--refine", 5, "--sample-z", "-o", tmp_path / "b.npz")
    assert bad.returncode == 2 and b"--refine and --sample-z" in bad.stderr
    assert not (tmp_path / "b.npz").exists()
