"""`muse eval`: how well a checkpoint reconstructs and samples, on the held-out test split.

Reconstruction: decode(encode_mu(x)) with argmax decoding, against the test
split's distinct 2-bar windows (shipped in muse_cli/data/test_windows.npz; made
by the same deterministic by-tune split the default model was trained with).

Prior samples: for N samples at temperature 1.0 (seeded), the overlapping area
(Yang & Lerch 2018) between the kernel-density estimates of a feature over the
samples and over the test windows, for pitch range, mean absolute interval,
note count, pitch-class-histogram entropy and mean inter-onset interval.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from muse_cli import settings
from muse_cli.encoding import STEPS_PER_QUARTER
from muse_cli.engines.base import reconstruction_scores
from muse_cli.refine import DEFAULT_REFINE, refine

TEST_WINDOWS = settings.PACKAGE_DIR / "data" / "test_windows.npz"
OA_FEATURES = ("pitch_range", "mean_abs_interval", "note_count", "pch_entropy", "mean_ioi")
TARGETS = {"step_accuracy": 0.90, "note_on_accuracy": 0.75, "overlap": 0.70}
RHYTHM_CLASSES = ("sixteenths", "syncopation", "leaps")


def load_test_windows(path: Path = TEST_WINDOWS) -> np.ndarray:
    return np.load(path)["windows"].astype(np.int64)


def overlapping_area(a: np.ndarray, b: np.ndarray, grid: int = 512) -> float:
    """Area under min(p_a, p_b) of Gaussian KDEs of two 1-D samples, in [0, 1]."""
    from scipy.stats import gaussian_kde

    a, b = np.asarray(a, float), np.asarray(b, float)
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    spread = max(hi - lo, 1e-6)
    xs = np.linspace(lo - 0.25 * spread, hi + 0.25 * spread, grid)

    def density(v):
        if np.std(v) < 1e-9:  # a constant feature: a narrow bump at its value
            v = v + np.random.default_rng(0).normal(0, 1e-3 * spread, len(v))
        return gaussian_kde(v)(xs)

    pa, pb = density(a), density(b)
    return float(np.clip(np.trapz(np.minimum(pa, pb), xs), 0.0, 1.0))


def window_features(events: np.ndarray) -> dict[str, np.ndarray]:
    from muse_cli.features import measure

    rows = measure(events)
    return {k: np.array([r[k] for r in rows]) for k in OA_FEATURES}


def rhythm_classes(windows: np.ndarray) -> dict[str, np.ndarray]:
    """Masks of the windows that are harder than folk tunes' plain rhythms:
    ``sixteenths`` a note that starts off the 8th-note grid or lasts one 16th; ``syncopation`` a note
    that starts off the beat and is held over the next beat; ``leaps`` two neighbouring notes more
    than an octave apart."""
    from muse_cli.midi import events_to_notes

    masks = {name: np.zeros(len(windows), bool) for name in RHYTHM_CLASSES}
    for i, ev in enumerate(windows):
        notes = events_to_notes(ev)
        masks["sixteenths"][i] = any(s % 2 or e - s == 1 for _, s, e in notes)
        beat = STEPS_PER_QUARTER
        masks["syncopation"][i] = any(s % beat and e > (s // beat + 1) * beat for _, s, e in notes)
        masks["leaps"][i] = any(abs(b[0] - a[0]) > 12 for a, b in zip(notes, notes[1:]))
    return masks


def scores(windows: np.ndarray, rec: np.ndarray, classes: dict[str, np.ndarray]) -> dict:
    out = reconstruction_scores(windows, rec)
    out["by_class"] = {
        name: {
            k: v
            for k, v in reconstruction_scores(windows[m], rec[m]).items()
            if k in ("windows", "step_accuracy", "note_on_accuracy")
        }
        for name, m in classes.items()
    }
    return out


def evaluate(model, limit: int | None = None, samples: int = 256, seed: int = 0, refine_steps: int = 0) -> dict:
    """All of `muse eval`'s numbers for a loaded model; with ``refine_steps``, reconstruction from
    refined latents too (:mod:`muse_cli.refine`)."""
    t0 = time.time()
    windows = load_test_windows()
    if limit:
        windows = windows[np.random.default_rng(seed).permutation(len(windows))[:limit]]
    classes = rhythm_classes(windows)
    mu, _ = model.encode_events(windows)
    rec = scores(windows, model.decode_events(mu), classes)
    refined = None
    if refine_steps:
        z = refine(model, windows, mu, refine_steps)
        refined = {"steps": refine_steps, **scores(windows, model.decode_events(z), classes)}
    t_rec = time.time() - t0
    z = np.random.default_rng([seed, 0]).standard_normal((samples, model.z_size)).astype(np.float32)
    sampled = model.decode_events(z, temperature=1.0, noise_seeds=[(seed, i, 1, 0) for i in range(samples)])
    fs, ft = window_features(sampled), window_features(windows)
    overlap = {k: overlapping_area(fs[k], ft[k]) for k in OA_FEATURES}
    return {
        "checkpoint": model.name,
        "test_windows": int(len(windows)),
        "reconstruction": rec,
        "refined": refined,
        "prior": {
            "samples": samples,
            "temperature": 1.0,
            "overlapping_area": overlap,
            "mean_notes_per_sample": float(fs["note_count"].mean()),
            "mean_notes_per_test_window": float(ft["note_count"].mean()),
        },
        "seconds": {"reconstruction": round(t_rec, 1), "total": round(time.time() - t0, 1)},
        "targets": TARGETS,
        "batch_size": model.batch_size,
    }


def _class_lines(by_class: dict) -> list[str]:
    return [
        f"    {name:<16} {c['windows']:>5} windows: step {c['step_accuracy']:.3f}, note-on {c['note_on_accuracy']:.3f}"
        for name, c in by_class.items()
    ]


def format_report(r: dict) -> str:
    rec, prior = r["reconstruction"], r["prior"]

    def mark(ok: bool) -> str:
        return "ok" if ok else "below target"

    lines = [
        f"checkpoint {r['checkpoint']}: {r['test_windows']} held-out 2-bar windows (test split)",
        "reconstruction, decode(encode_mu(x)) with argmax decoding:",
        f"  step accuracy      {rec['step_accuracy']:.3f}   (always-hold baseline {rec['hold_baseline']:.3f}; "
        f"target >= {TARGETS['step_accuracy']:.2f}: {mark(rec['step_accuracy'] >= TARGETS['step_accuracy'])})",
        f"  exact windows      {rec['exact_windows']:.3f}",
        f"  note-on accuracy   {rec['note_on_accuracy']:.3f}   (target >= {TARGETS['note_on_accuracy']:.2f}: "
        f"{mark(rec['note_on_accuracy'] >= TARGETS['note_on_accuracy'])})",
        *_class_lines(rec["by_class"]),
    ]
    refined = r.get("refined")
    if refined:
        lines += [
            f"reconstruction from latents refined by {refined['steps']} steps (muse encode --refine"
            f"{'; the default for every MIDI input' if refined['steps'] == DEFAULT_REFINE else ''}):",
            f"  step accuracy      {refined['step_accuracy']:.3f}",
            f"  exact windows      {refined['exact_windows']:.3f}",
            f"  note-on accuracy   {refined['note_on_accuracy']:.3f}",
            *_class_lines(refined["by_class"]),
        ]
    lines += [
        f"prior samples: {prior['samples']} at temperature {prior['temperature']}, overlapping area with the test set "
        f"(target >= {TARGETS['overlap']:.2f} each):",
    ]
    for k, v in prior["overlapping_area"].items():
        lines.append(f"  {k:<18} {v:.3f}   {mark(v >= TARGETS['overlap'])}")
    lines.append(
        f"  notes per 2 bars: samples {prior['mean_notes_per_sample']:.1f}, "
        f"test set {prior['mean_notes_per_test_window']:.1f}"
    )
    lines.append(f"time: {r['seconds']['total']:.1f} s (reconstruction {r['seconds']['reconstruction']:.1f} s)")
    return "\n".join(lines)
