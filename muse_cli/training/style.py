"""Fit a style (`muse fit-style DIR -o NAME`): the checkpoint's conductor adapted to a folder of tunes.

Every .mid/.midi in the folder (unreadable ones skipped, one line each on stderr) is moved to the common key
(C major / A minor, from :func:`muse_cli.features.estimated_key`, as continue does), cut into 2-bar windows
from its start (at most :data:`muse_cli.training.conductor_data.MAX_WINDOWS`), and encoded
(:func:`muse_cli.refine.means`); its returns are labelled as the corpus's are
(:func:`muse_cli.training.conductor_data.return_labels`).

A few tunes cannot fit the whole conductor, so, as MidiMe does, the style fits the distribution of the user's
latents and adapts the corpus conductor toward it (conjugate-prior shrinkage toward the shipped conductor):

* first window, per mode: mean (n x_bar + MEAN_PRIOR m0) / (n + MEAN_PRIOR), covariance
  (scatter + COV_PRIOR S0) / (n + COV_PRIOR);
* new material: the corpus regression's residuals on the user's new windows shift its intercept by their
  shrunk mean (same MEAN_PRIOR) and their scatter updates its residual covariance (same COV_PRIOR);
* varied returns: the covariance of the user's variations, shrunk the same way;
* the choice (return or new): the conditional logit refitted on the user's decisions with a Gaussian prior
  (sd CHOICE_SD) around the corpus weights; exact vs varied keeps the corpus's;
* mode share and keys: the user's, with MEAN_PRIOR tunes' worth of the corpus's.

Seconds on a CPU for dozens of tunes (the encoding's refinement is most of it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from muse_cli import conductor as cond
from muse_cli.encoding import MAX_PITCH, MIN_PITCH, WINDOW_STEPS
from muse_cli.errors import InputError, MuseError
from muse_cli.training.conductor import ar_rows, choice_loss, choice_rows, varied_rows
from muse_cli.training.conductor_data import MAX_WINDOWS, return_labels

SUFFIXES = (".mid", ".midi")
MEAN_PRIOR = 4.0  # windows' (tunes') worth of the corpus conductor behind each adapted mean
COV_PRIOR = 64.0  # windows' worth behind each adapted covariance (512 dimensions: a few windows cannot fill it)
CHOICE_SD = 0.5  # prior sd of the choice weights around the corpus's


def read_folder(folder: Path, log=None) -> list:
    """The melodies of every .mid/.midi in ``folder`` (sorted by name); an unreadable file is skipped with one
    line on ``log`` (stderr); InputError when the folder is missing or has fewer than two usable tunes."""
    from muse_cli.files import read_bytes
    from muse_cli.midi import read_melody

    log = log or (lambda s: print(s, file=sys.stderr))
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; give a folder of MIDI files (.mid, .midi)")
    melodies = []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file()):
        try:
            melodies.append(read_melody(read_bytes(str(path)), str(path)))
        except MuseError as exc:
            log(f"skipped {path.name}: {exc}")
    if len(melodies) < 2:
        got = "only one usable tune" if melodies else "no usable MIDI file"
        raise InputError(f"{folder} has {got}; a style needs two tunes or more (.mid, .midi, 4/4 melodies)")
    return melodies


def tune_of(model, melody) -> dict | None:
    """A melody as the conductor's data: latents of its 2-bar windows in the common key, their return labels, its
    mode and original tonic (None when its pitches leave the model's range in the common key)."""
    from muse_cli.features import estimated_key
    from muse_cli.midi import notes_to_events
    from muse_cli.refine import means

    tonic, mode = estimated_key(melody.notes)
    shift = cond.common_shift(tonic, mode)
    notes = [(p + shift, s, e) for p, s, e in melody.notes]
    low, high = min(p for p, _, _ in notes), max(p for p, _, _ in notes)
    octave = 12 if low < MIN_PITCH else -12 if high > MAX_PITCH else 0
    notes = [(p + octave, s, e) for p, s, e in notes]
    if min(p for p, _, _ in notes) < MIN_PITCH or max(p for p, _, _ in notes) > MAX_PITCH:
        return None
    total = max(1, -(-melody.total_steps // WINDOW_STEPS))
    count = min(total, MAX_WINDOWS)
    events = np.stack([notes_to_events(notes, w * WINDOW_STEPS) for w in range(count)])
    kind, pos = return_labels(events)
    z = means(model, events).astype(np.float64)
    return {"z": z, "kind": kind, "pos": pos, "mode": mode, "ends": count == total, "tonic": tonic}


def _shrunk(rows: np.ndarray, mean0: np.ndarray | None, chol0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, Cholesky factor) of ``rows`` shrunk toward (mean0, chol0 chol0^T); mean0 None: zero-mean rows."""
    n = len(rows)
    mean = np.zeros(chol0.shape[0]) if mean0 is None else (rows.sum(0) + MEAN_PRIOR * mean0) / (n + MEAN_PRIOR)
    d = rows - mean
    cov = (d.T @ d + COV_PRIOR * chol0 @ chol0.T) / (n + COV_PRIOR)
    return mean, np.linalg.cholesky(cov + 1e-9 * np.eye(len(cov)))


def _choice(w0: np.ndarray, tunes: list[dict]) -> np.ndarray:
    from scipy.optimize import minimize

    if not any(len(t["z"]) > 1 for t in tunes):
        return w0
    x, starts, target = choice_rows(tunes)
    lam = 1.0 / (len(starts) * CHOICE_SD**2)

    def loss(w):
        val, grad = choice_loss(w, x, starts, target)
        return val + 0.5 * lam * (w - w0) @ (w - w0), grad + lam * (w - w0)

    return minimize(loss, w0, jac=True, method="L-BFGS-B").x


def adapt(base: cond.Conductor, tunes: list[dict]) -> tuple[dict, dict]:
    """(arrays, meta additions) of the base conductor adapted to ``tunes`` (module docstring)."""
    a = {k: v.copy() for k, v in base.arrays.items()}
    z = base.z_size
    for m, mode in enumerate(cond.MODES):
        firsts = np.array([t["z"][0] for t in tunes if t["mode"] == mode]).reshape(-1, z)
        if len(firsts):
            a["first_mean"][m], a["first_chol"][m] = _shrunk(firsts, a["first_mean"][m], a["first_chol"][m])
    x, y = ar_rows(tunes)
    if len(x):
        shift, a["ar_chol"] = _shrunk(y - x @ a["ar_weight"], np.zeros(z), a["ar_chol"])
        a["ar_weight"][2 * z] += shift  # the intercept row of muse_cli.conductor.ar_inputs
    varied = varied_rows(tunes)
    if len(varied):
        _, a["var_chol"] = _shrunk(np.concatenate([varied, -varied]), None, a["var_chol"])
    a["choice_w"] = _choice(a["choice_w"], tunes)
    minor = sum(t["mode"] == "minor" for t in tunes)
    share = float(base.meta.get("minor_share", 0.0))
    tonics = {}
    for mode in cond.MODES:
        corpus = np.asarray(base.meta["tonics"][mode], float)
        own = np.bincount([t["tonic"] for t in tunes if t["mode"] == mode], minlength=12)
        tonics[mode] = (own + MEAN_PRIOR * corpus / max(corpus.sum(), 1.0)).round(4).tolist()
    meta = {"minor_share": round((minor + MEAN_PRIOR * share) / (len(tunes) + MEAN_PRIOR), 4), "tonics": tonics}
    return a, meta


def fit_style(model, folder: Path, log=None) -> bytes:
    """The style file (a conductor file, :func:`muse_cli.conductor.to_bytes`) of the tunes in ``folder``."""
    from muse_cli.cache import checkpoint_identity

    log = log or (lambda s: print(s, file=sys.stderr))
    tunes = []
    for melody in read_folder(folder, log):
        tune = tune_of(model, melody)
        if tune is None:
            log(f"skipped {Path(melody.source).name}: its notes leave the model's pitch range")
        else:
            tunes.append(tune)
    if len(tunes) < 2:
        raise InputError(f"{folder} has fewer than two tunes the model can read; a style needs two or more")
    base = cond.load(model)
    arrays, meta = adapt(base, tunes)
    style = {"tunes": len(tunes), "windows": int(sum(len(t["z"]) for t in tunes)), "folder": str(folder)}
    style["priors"] = {"mean": MEAN_PRIOR, "cov": COV_PRIOR, "choice_sd": CHOICE_SD}
    meta = {
        **{k: v for k, v in base.meta.items() if k not in ("report", "format")},
        **meta,
        "checkpoint": model.name,
        "checkpoint_sha256": checkpoint_identity(model.checkpoint),
        "method": "the checkpoint's conductor adapted to a folder's tunes (muse_cli.training.style)",
        "style": style,
    }
    return cond.to_bytes(arrays, meta)
