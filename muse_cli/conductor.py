"""The conductor: a learned model of how real tunes move from one 2-bar window to the next, in latent space.

A piece is a sequence of latents, one per 2-bar window, in a common key (C major, or A minor: one
scale, the white keys). At each window the conductor chooses, with learned probabilities, either to
RETURN to an earlier window or to write NEW material:

* a return copies the earlier window's latent, exactly (the recipe decodes it with the same noise, so
  its notes come back note for note) or varied (plus a learned variation drawn from the difference
  between real tunes' close returns);
* new material is a Gaussian prediction from everything before it: the previous latent and the mean of
  all earlier latents (a linear regression of real tunes' encoder means, with its full residual
  covariance), with the tune's mode and whether the window ends the piece.

The choice is a conditional logit over "new" and every earlier window, on features of phrase position
(4 windows = 8 bars), lag, and whether the previous window returned to the one before the candidate
(so a repeated phrase goes on repeating): :func:`option_features`, shared with the fitting in
:mod:`muse_cli.training.conductor`, which learns every number from the corpus's training tunes.

A form (letters per section, :func:`muse_cli.form.sections`) constrains the choice: a repeated letter
returns to its first section window by window, a new letter may only return inside itself.

Randomness: window k of piece (seed s, index i) draws its choice and its latent from
``default_rng([s, i, 9, k])``, and a piece's mode from ``default_rng([s, i, 9])``: a piece depends on its
own seed and index only. NumPy only; the file loads in milliseconds.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from muse_cli.errors import CheckpointError

FILE = "conductor.npz"
FORMAT = 1
FIT_COMMAND = "python -m muse_cli.training.conductor"
STREAM = 9  # the rng stream of the conductor's draws (see muse_cli.model's docstring for the others)
SCALE = (0, 2, 4, 5, 7, 9, 11)  # the common frame's scale: C major and A minor
TONIC = {"major": 0, "minor": 9}  # the common frame's tonic pitch class per mode
MODES = ("major", "minor")
PHRASE = 4  # windows per 8-bar phrase
LAGS = 16  # lags told apart; longer ones share the last
MAX_K = 16  # positions told apart by the "new" option
ARRAYS = ("first_mean", "first_chol", "ar_weight", "ar_chol", "var_chol", "choice_w", "exact_w")

# option feature layout: candidate block then "new" block, disjoint
_LAG, _PAIR, _FOLLOW, _JRET, _JFIRST, _FOLLOW_EXACT = 0, 16, 32, 33, 34, 35
_NPHASE, _NPOS, _NPREV, _NSHARE = 36, 40, 56, 57
FEATURES = 58
EXACT_FEATURES = PHRASE + 2


@dataclass(frozen=True)
class Conductor:
    """A loaded conductor file: its arrays (see :data:`ARRAYS`) and meta."""

    arrays: dict
    meta: dict

    @property
    def z_size(self) -> int:
        return int(self.arrays["first_mean"].shape[1])


# -- the file -------------------------------------------------------------------------
def path_for(checkpoint: Path) -> Path:
    """``conductor.npz`` in the checkpoint's directory."""
    checkpoint = Path(checkpoint)
    return (checkpoint if checkpoint.is_dir() else checkpoint.parent) / FILE


def to_bytes(arrays: dict, meta: dict) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        **{k: np.asarray(arrays[k], np.float32) for k in ARRAYS},
        meta=np.array(json.dumps({"format": FORMAT, **meta}, sort_keys=True)),
    )
    return buf.getvalue()


def _shapes(z: int) -> dict:
    return {
        "first_mean": (2, z),
        "first_chol": (2, z, z),
        "ar_weight": (2 * z + 3, z),
        "ar_chol": (z, z),
        "var_chol": (z, z),
        "choice_w": (FEATURES,),
        "exact_w": (EXACT_FEATURES,),
    }


_LOADED: dict[tuple, Conductor] = {}


def has_conductor(model) -> bool:
    """Whether ``model``'s checkpoint has a conductor file beside it (the embedded model does)."""
    return path_for(model.checkpoint).is_file()


def load(model, path: Path | None = None, hint: str | None = None) -> Conductor:
    """The conductor of ``model``'s checkpoint (its own file, or ``path``), cached; CheckpointError (one line)
    when there is none, it is unreadable or malformed, or it was fitted for another checkpoint (``hint``: the
    command that makes it again)."""
    from muse_cli.cache import check_identity

    path = Path(path) if path else path_for(model.checkpoint)
    hint = hint or f"{FIT_COMMAND} -c {model.checkpoint}"
    if not path.is_file():
        raise CheckpointError(f"checkpoint {model.name} has no conductor ({path} is missing); fit one with: {hint}")
    key = (str(path.resolve()), path.stat().st_mtime_ns, path.stat().st_size, str(Path(model.checkpoint).resolve()))
    if key not in _LOADED:
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k].astype(np.float64) for k in ARRAYS}
                meta = json.loads(str(data["meta"]))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            why = " ".join(str(exc).split())[:100] or type(exc).__name__
            raise CheckpointError(f"{path} is not a readable conductor file ({why}); fit it with: {hint}") from None
        shapes = _shapes(model.z_size)
        if (
            not isinstance(meta, dict)
            or meta.get("format") != FORMAT
            or any(arrays[k].shape != shapes[k] for k in ARRAYS)
            or not all(np.all(np.isfinite(a)) for a in arrays.values())
        ):
            raise CheckpointError(f"{path} does not fit checkpoint {model.name} (z {model.z_size}); run: {hint}")
        check_identity(meta.get("checkpoint_sha256"), model.checkpoint, str(path), hint)
        _LOADED[key] = Conductor(arrays, meta)
    return _LOADED[key]


# -- the choice ---------------------------------------------------------------------
def option_features(k: int, plan: list) -> tuple[np.ndarray, np.ndarray]:
    """Features of returning to each window j < k ([k, FEATURES]) and of new material ([FEATURES]) at window
    ``k``, given ``plan``: (kind, source) of each earlier window, kind "new", "exact" or "varied"."""
    cand = np.zeros((k, FEATURES))
    j = np.arange(k)
    cand[j, _LAG + np.minimum(k - j, LAGS) - 1] = 1.0
    cand[j, _PAIR + (k % PHRASE) * PHRASE + j % PHRASE] = 1.0
    prev_kind, prev_src = plan[k - 1] if k else ("new", -1)
    if prev_kind != "new" and 0 <= prev_src + 1 < k:
        cand[prev_src + 1, _FOLLOW if prev_kind == "varied" else _FOLLOW_EXACT] = 1.0
    cand[:, _JRET] = [kind != "new" for kind, _ in plan[:k]]
    cand[0, _JFIRST] = 1.0 if k else 0.0
    new = np.zeros(FEATURES)
    new[_NPHASE + k % PHRASE] = 1.0
    new[_NPOS + min(max(k, 1), MAX_K) - 1] = 1.0
    new[_NPREV] = float(prev_kind != "new")
    new[_NSHARE] = float(np.mean([kind != "new" for kind, _ in plan[:k]])) if k else 0.0
    return cand, new


def exact_features(k: int, j: int, plan: list) -> np.ndarray:
    """Features of an exact (rather than varied) return from window ``k`` to ``j``."""
    f = np.zeros(EXACT_FEATURES)
    f[k % PHRASE] = 1.0
    prev_kind, prev_src = plan[k - 1] if k else ("new", -1)
    f[PHRASE] = float(prev_kind == "exact" and prev_src == j - 1)
    f[PHRASE + 1] = float((k - j) % PHRASE == 0)
    return f


def ar_inputs(history: np.ndarray, mode: str, last: bool) -> np.ndarray:
    """The regression inputs of the window after ``history`` [k >= 1, z]: previous latent, mean of all, 1,
    minor, last."""
    return np.concatenate([history[-1], history.mean(0), [1.0, float(mode == "minor"), float(last)]])


def _softmax(scores: np.ndarray) -> np.ndarray:
    e = np.exp(scores - scores.max())
    return e / e.sum()


def context_plan(latents: np.ndarray) -> list:
    """The plan of given windows (an input's): a window whose latent equals an earlier one's is an exact
    return to the first such window, any other is new."""
    plan = []
    for k, z in enumerate(latents):
        same = [j for j in range(k) if np.allclose(latents[j], z, atol=1e-5)]
        plan.append(("exact", same[0]) if same else ("new", -1))
    return plan


def _allowed(k: int, c: int, sections, first_of: dict) -> tuple[int | None, np.ndarray]:
    """(forced source or None, bool mask of which earlier windows may be returned to) for window k."""
    mask = np.ones(k, bool)
    if not sections:
        return None, mask
    for letter, start, length in sections:
        if start <= k - c < start + length:
            if first_of[letter][0] != start:
                s0, n0 = first_of[letter]
                return c + s0 + (k - c - start) % n0, mask
            mask[: c + start] = False
            return None, mask
    return None, mask


def conduct(
    conductor: Conductor,
    seed: int,
    index: int,
    windows: int,
    temperature: float = 1.0,
    context_latents: np.ndarray | None = None,
    sections: list | None = None,
    mode: str | None = None,
) -> tuple[np.ndarray, dict]:
    """Latents [windows, z] of a piece's new windows, and its plan: {"mode", "windows": [{"kind", "source"}]}
    for every window (the context's first), sources counted from the first context window.

    ``context_latents`` (an input's windows) are conditioned on, all of them; ``sections`` (letter, first
    window, windows) of the new windows constrain the returns; ``mode`` ("major"/"minor") is drawn with
    the corpus's share when not given. Every latent draw's spread is ``temperature`` times the file's
    ``latent_scale`` (picked on validation tunes, see :mod:`muse_cli.training.conductor`)."""
    a = conductor.arrays
    spread = temperature * float(conductor.meta.get("latent_scale", 1.0))
    context = np.zeros((0, conductor.z_size)) if context_latents is None else np.asarray(context_latents, np.float64)
    c = len(context)
    if mode is None:
        minor = float(conductor.meta.get("minor_share", 0.0))
        mode = "minor" if np.random.default_rng([seed, index, STREAM]).random() < minor else "major"
    plan = context_plan(context)
    zs = list(context)
    first_of: dict = {}
    for letter, start, length in sections or []:
        first_of.setdefault(letter, (start, length))
    for k in range(c, c + windows):
        rng = np.random.default_rng([seed, index, STREAM, k])
        eps = rng.standard_normal(conductor.z_size)
        if k == 0:
            m = MODES.index(mode)
            zs.append(a["first_mean"][m] + spread * a["first_chol"][m] @ eps)
            plan.append(("new", -1))
            continue
        forced, mask = _allowed(k, c, sections, first_of)
        if forced is None:
            cand, new = option_features(k, plan)
            scores = np.concatenate([cand @ a["choice_w"], [new @ a["choice_w"]]])
            scores[:k][~mask] = -np.inf
            pick = int(rng.choice(k + 1, p=_softmax(scores)))
        else:
            pick = forced
        u = rng.random()
        if pick == k:
            x = ar_inputs(np.array(zs), mode, k == c + windows - 1)
            zs.append(x @ a["ar_weight"] + spread * a["ar_chol"] @ eps)
            plan.append(("new", -1))
            continue
        exact = u < 1.0 / (1.0 + np.exp(-exact_features(k, pick, plan) @ a["exact_w"]))
        zs.append(zs[pick] if exact else zs[pick] + spread * a["var_chol"] @ eps)
        plan.append(("exact" if exact else "varied", pick))
    latents = np.array(zs[c:], np.float32).reshape(windows, conductor.z_size)
    return latents, {"mode": mode, "windows": [{"kind": kd, "source": int(s)} for kd, s in plan]}


def common_shift(tonic: int, mode: str) -> int:
    """Semitones (-5..+6) that move ``tonic`` in ``mode`` to the common frame's tonic (C major, A minor)."""
    d = (TONIC[mode] - tonic) % 12
    return d - 12 if d > 6 else d


JOIN = 5  # semitones a window's first beat may move from the note before it
JOIN_STEPS = 4  # the steps of that first beat


def join_classes(previous: int | None, scale: bool = True) -> np.ndarray:
    """Bool [32, 90]: a window's classes per step: the scale (or every class), and in its first beat no note-on
    further than JOIN semitones from ``previous`` (the last pitch before the window; None: no limit), so that
    windows decoded apart join as real tunes' windows do."""
    from muse_cli.encoding import FIRST_NOTE, MIN_PITCH, NUM_CLASSES, WINDOW_STEPS

    allowed = np.tile(scale_classes() if scale else np.ones(NUM_CLASSES, bool), (WINDOW_STEPS, 1))
    if previous is not None:
        pitches = np.arange(FIRST_NOTE, NUM_CLASSES) - FIRST_NOTE + MIN_PITCH
        allowed[:JOIN_STEPS, FIRST_NOTE:] &= np.abs(pitches - previous) <= JOIN
    return allowed


def cadence_classes(tonic: int, scale: bool = True, end: int = 32, steps: int = 8) -> np.ndarray:
    """Bool [32, 90]: a last window's classes per step: the scale (or every class), and in the ``steps`` steps
    before step ``end`` (where the piece ends) no note-on but ``tonic`` (a pitch class; holds and note-offs stay
    allowed)."""
    from muse_cli.encoding import FIRST_NOTE, MIN_PITCH, NUM_CLASSES, WINDOW_STEPS

    allowed = np.tile(scale_classes() if scale else np.ones(NUM_CLASSES, bool), (WINDOW_STEPS, 1))
    pcs = (np.arange(FIRST_NOTE, NUM_CLASSES) - FIRST_NOTE + MIN_PITCH) % 12
    allowed[max(0, end - steps) : end, FIRST_NOTE:] &= pcs == tonic
    return allowed


def scale_classes(tonic_shift: int = 0) -> np.ndarray:
    """Bool [90] of the melody classes in the common frame's scale moved by ``tonic_shift`` semitones: hold,
    note off and every note-on whose pitch class is in the scale."""
    from muse_cli.encoding import FIRST_NOTE, MIN_PITCH, NUM_CLASSES

    allowed = np.zeros(NUM_CLASSES, bool)
    allowed[:FIRST_NOTE] = True
    pcs = (np.arange(FIRST_NOTE, NUM_CLASSES) - FIRST_NOTE + MIN_PITCH) % 12
    allowed[FIRST_NOTE:] = np.isin(pcs, [(p + tonic_shift) % 12 for p in SCALE])
    return allowed
