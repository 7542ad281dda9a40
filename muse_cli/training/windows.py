"""The 2-bar windows training sees: each corpus split's windows through magenta's own converter, their
transposition, and (for the encoder stage) windows the frozen decoder makes itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from muse_cli.encoding import DUPLE_METERS, FIRST_NOTE, NUM_CLASSES, WINDOW_STEPS

BUILD = Path("build")
BASE_CONFIG = "cat-mel_2bar_small"  # whose data converter makes the windows
# DUPLE_METERS: beats land on magenta's 16-steps-per-bar grid when written as 4/4:
# two bars of 2/4 make one bar of 4/4, and 2/2 and 4/2 keep every beat in place.
STRICT_METERS = ("4/4", "2/2")
QPM = 120.0
METERS = {"strict": STRICT_METERS, "duple": DUPLE_METERS, "all": None}


def tune_to_sequence(tune: dict, label_4_4: bool = True):
    """A NoteSequence at 120 qpm for one corpus tune (one instrument, program 0)."""
    import note_seq

    ns = note_seq.NoteSequence()
    ns.ticks_per_quarter = 220
    ns.tempos.add(qpm=QPM)
    num, den = (4, 4) if label_4_4 else map(int, tune["meter"].split("/"))
    ns.time_signatures.add(numerator=num, denominator=den)
    sec = 60.0 / QPM
    for pitch, start, end in tune["notes"]:
        if start < 0:
            continue
        ns.notes.add(pitch=pitch, start_time=start * sec, end_time=end * sec, velocity=80, instrument=0, program=0)
    ns.total_time = max((n.end_time for n in ns.notes), default=0.0)
    return ns


def _windows_of(args):
    (tune,) = args
    from magenta.models.music_vae import configs

    conv = configs.CONFIG_MAP[BASE_CONFIG].data_converter
    conv.set_mode("eval")
    tensors = conv.to_tensors(tune_to_sequence(tune))
    return [np.argmax(t, axis=-1).astype(np.uint8) for t in tensors.outputs]


def prepare(tunes: list[dict], meters: tuple[str, ...] | None, workers: int = 2) -> dict[str, np.ndarray]:
    """Distinct 2-bar windows (class indices, shape [n, WINDOW_STEPS]) per split, via magenta's converter."""
    import multiprocessing as mp

    chosen = [t for t in tunes if meters is None or set(t["meters"]) <= set(meters)]
    with mp.get_context("fork").Pool(workers) as pool:
        per_tune = pool.map(_windows_of, [(t,) for t in chosen], chunksize=32)
    out: dict[str, list] = {"train": [], "valid": [], "test": []}
    seen: dict[str, set] = {k: set() for k in out}
    for tune, wins in zip(chosen, per_tune):
        for w in wins:
            key = w.tobytes()
            if key not in seen[tune["split"]]:
                seen[tune["split"]].add(key)
                out[tune["split"]].append(w)
    return {k: np.stack(v) if v else np.zeros((0, WINDOW_STEPS), np.uint8) for k, v in out.items()}


def augment(batch: np.ndarray, rng: np.random.Generator, transpose: int = 5) -> np.ndarray:
    """Transpose each window by a random -5..+5 semitones when it stays in range (magenta's augmenter)."""
    out = batch.copy()
    shifts = rng.integers(-transpose, transpose + 1, size=len(batch))
    for i, s in enumerate(shifts):
        notes = out[i] >= FIRST_NOTE
        if not notes.any():
            continue
        lo, hi = out[i][notes].min(), out[i][notes].max()
        if FIRST_NOTE <= lo + s and hi + s <= NUM_CLASSES - 1:
            out[i][notes] = out[i][notes] + s
    return out


def windows_for(meters: str, train_meters: str | None, tunes: Path, build: Path = BUILD) -> dict[str, np.ndarray]:
    """Train/valid/test windows of ``meters`` (cached in build/windows-METERS.npz); with ``train_meters``,
    the training split also takes every window of those meters (duple ones first, each window once)."""
    from muse_cli.training import corpus

    path = build / f"windows-{meters}.npz"
    if path.exists():
        data = dict(np.load(path))
    else:
        data = prepare(corpus.build(tunes), METERS[meters])
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **data)
    if train_meters in (None, meters):
        return data
    more = windows_for(train_meters, None, tunes, build)["train"]
    both = np.concatenate([data["train"], more])
    _, first = np.unique(both, axis=0, return_index=True)
    return {**data, "train": both[np.sort(first)]}


DECODER_NEAR = 0.25  # how far a "near" window's latent moves from a real window's encoder mean toward a prior draw
DECODER_CHUNK = 4096


def decoder_windows(checkpoint: Path, real: np.ndarray, n: int, build: Path = BUILD, seed: int = 0) -> np.ndarray:
    """``n`` windows that ``checkpoint``'s own decoder makes (cached in build/): half from prior draws at
    temperature 1, half near real windows (an encoder mean slerped DECODER_NEAR toward a prior draw, decoded at
    temperature 0.5). Windows with fewer than 2 notes are left out. They teach an encoder to invert the frozen
    decoder beyond the corpus's windows."""
    from muse_cli.cache import checkpoint_identity
    from muse_cli.model import load_model
    from muse_cli.paths import slerp

    path = build / f"decoder-windows-{checkpoint_identity(Path(checkpoint))[:12]}-{n}-{seed}.npz"
    if path.exists():
        return np.load(path)["windows"]
    model = load_model(str(checkpoint))
    rng = np.random.default_rng([seed, 17])
    half = n // 2
    z = [rng.standard_normal((half, model.z_size)).astype(np.float32)]
    mu, _ = model.encode_events(real[rng.integers(0, len(real), size=n - half)].astype(np.int64))
    z.append(np.stack([slerp(m, rng.standard_normal(model.z_size), DECODER_NEAR) for m in mu]))
    temps = [1.0, 0.5]
    out = []
    for part, (zz, temp) in enumerate(zip(z, temps)):
        for lo in range(0, len(zz), DECODER_CHUNK):
            rows = zz[lo : lo + DECODER_CHUNK]
            noise = [(seed, 17, part, lo + i) for i in range(len(rows))]
            out.append(model.decode_events(rows, temperature=temp, noise_seeds=noise).astype(np.uint8))
    made = np.concatenate(out)
    made = made[(made >= FIRST_NOTE).sum(axis=1) >= 2]
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, windows=made)
    return made
