"""Train a prompt head for one checkpoint: captions of real 2-bar windows -> that checkpoint's
encoder means, fitted by Gaussian negative log-likelihood.

The work (caption embeddings, window latents, the head's training state) is cached under
``$MUSE_HOME/prompt-fit/<checkpoint sha256[:16]>/``, so a run that is stopped picks up where it
was; the finished head goes to ``prompt_head/`` in the checkpoint's directory.

    python -m muse_cli.training.prompt_head --checkpoint muse-mel_2bar          # the shipped head
    python -m muse_cli.training.prompt_head --checkpoint path/to/export --steps 500

Every batch is drawn from ``default_rng([seed, step])``: a resumed run trains on exactly the
batches an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from muse_cli import settings
from muse_cli.errors import PromptError
from muse_cli.progress import Progress
from muse_cli.training.options import FitOptions  # noqa: F401  (the fit's options: muse fit-prompt reads them)

EMBED_BATCH = 64
ENCODE_CHUNK = 1024


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def tunes_path() -> Path:
    """build/corpus/tunes.json.gz in a source checkout, else $MUSE_HOME/corpus/tunes.json.gz."""
    from muse_cli.training.corpus import DEFAULT_TUNES

    return DEFAULT_TUNES if DEFAULT_TUNES.exists() else settings.home() / "corpus" / DEFAULT_TUNES.name


def load_corpus(path: Path | None = None, log=_stderr) -> list[dict]:
    """A user's --tunes file (:func:`muse_cli.training.corpus.load_tunes`), else the parsed corpus (made once)."""
    from muse_cli.training import corpus

    if path:
        return corpus.load_tunes(Path(path))
    path = tunes_path()
    if not path.exists():
        log(f"parsing music21's corpus into {path} (once; 6 to 30 minutes)...")
    return corpus.build(path)


def work_dir(identity: str) -> Path:
    return settings.home() / "prompt-fit" / identity[:16]


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _cached(path: Path, key: str, make: Callable[[], dict]) -> dict:
    """Arrays from ``path`` when its key matches, else ``make()`` saved there."""
    if path.exists():
        try:
            data = dict(np.load(path, allow_pickle=False))
            if str(data.get("key")) == key:
                return data
        except (OSError, ValueError):
            pass
    data = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.npz")
    np.savez(tmp, key=np.array(key), **data)
    tmp.replace(path)
    return data


def encode_windows(model, events: np.ndarray, progress: bool = True) -> np.ndarray:
    """Encoder means [n, z] of event arrays [n, 32], in chunks."""
    out = []
    chunks = range(0, len(events), ENCODE_CHUNK)
    with Progress(len(events), "encoding windows", "windows", quiet=not progress) as bar:
        for b in chunks:
            mu, _ = model.encode_events(events[b : b + ENCODE_CHUNK])
            out.append(np.asarray(mu, np.float32))
            bar.advance(len(mu))
    return np.concatenate(out) if out else np.zeros((0, model.z_size), np.float32)


def embed_captions(texts: list[str], progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Token embeddings (float16, [n, T, 384]) and masks of training captions."""
    from muse_cli.prompt.text import load_text_encoder

    enc = load_text_encoder()
    ids, mask = enc.tokenize(texts)
    h = np.zeros(ids.shape + (384,), np.float16)
    with Progress(len(texts), "embedding captions", "captions", quiet=not progress) as bar:
        for b in range(0, len(texts), EMBED_BATCH * 4):
            part, m = enc.embed(texts[b : b + EMBED_BATCH * 4])
            h[b : b + len(part), : part.shape[1]] = part.astype(np.float16)
            bar.advance(len(part))
    return h, mask.astype(np.int8)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


@dataclass
class _Data:
    """What a fit trains on: corpus windows, captions, which windows each caption fits, and cache keys."""

    win: object  # captions.Windows
    texts: list[str]
    labels: list[dict]
    match: list[np.ndarray]
    win_key: str
    cap_key: str
    run_key: str


def _fit_data(tunes, o: FitOptions, identity: str, log) -> _Data:
    from muse_cli.training import captions as cap

    if not isinstance(tunes, list):
        tunes = load_corpus(tunes, log)
    win = cap.collect_windows(tunes, o.windows, seed=o.seed)
    if len(win) < 2:
        raise PromptError("too few corpus windows to fit a prompt head (it needs tunes in 2/4, 4/4 or 2/2)")
    texts, labels = cap.caption_pool(win, o.captions, seed=o.seed)
    win_key = _digest(identity, hashlib.sha256(win.events.tobytes()).hexdigest())
    cap_key = _digest(texts)
    return _Data(win, texts, labels, cap.matches(win, labels), win_key, cap_key, _digest(o, win_key, cap_key))


def fit(
    model,
    tunes=None,
    options: FitOptions = FitOptions(),
    out_dir: Path | None = None,
    restart: bool = False,
    progress: bool = True,
    log=_stderr,
    stop_after: int | None = None,
) -> Path | None:
    """Train (or resume) a prompt head for ``model`` and save it; returns the head's directory.

    ``stop_after`` ends the run after that many new steps with its state saved (returns None);
    the next call resumes it.

    ``tunes`` is a list of corpus tune dicts or a path to a corpus file (muse_cli.training.corpus) (default:
    :func:`tunes_path`). Says how long it will take before the long parts start.
    """
    from muse_cli.cache import checkpoint_identity
    from muse_cli.prompt.head import head_dir
    from muse_cli.quiet import quiet_tensorflow
    from muse_cli.training.prompt_trainer import train

    quiet_tensorflow()
    o = options
    t_begin = time.time()
    identity = checkpoint_identity(model.checkpoint)
    work = work_dir(identity)
    work.mkdir(parents=True, exist_ok=True)
    out_dir = Path(out_dir) if out_dir else head_dir(model.checkpoint)
    data = _fit_data(tunes, o, identity, log)
    captions_file = work.parent / f"captions-{data.cap_key}.npz"  # text only: shared by every checkpoint
    done = 0 if restart else _saved_step(work / "state", data.run_key)
    _estimate(model, data, o, work / "latents.npz", captions_file, done, log)

    # -- the long parts (each cached) -----------------------------------------------------------------
    win, texts = data.win, data.texts
    mu = _cached(work / "latents.npz", data.win_key, lambda: {"mu": encode_windows(model, win.events, progress)})["mu"]
    emb = _cached(captions_file, data.cap_key, lambda: dict(zip(("h", "mask"), embed_captions(texts, progress))))
    head, losses, end = train(model, data, mu, emb, o, work / "state", done, stop_after, progress, identity)
    if end < o.steps:
        log(f"fit-prompt: stopped at step {end} of {o.steps}; run the same command again to resume")
        return None
    tail = float(np.mean(losses[-100:])) if losses else float("nan")
    head.probe = fit_probe(win, data.match, emb["h"], emb["mask"])
    head.meta = {
        "checkpoint": model.name,
        "fit": {**o.__dict__, "windows_used": len(win), "captions_used": len(texts), "final_nll": round(tail, 4)},
    }
    head.save(out_dir)
    log(
        f"fit-prompt: wrote {out_dir} ({head.params} parameters, NLL {tail:.3f} per dimension) "
        f"in {_minutes(time.time() - t_begin)}"
    )
    return out_dir


def _is_cached(path: Path, key: str) -> bool:
    try:
        return str(np.load(path)["key"]) == key
    except (OSError, KeyError, ValueError):
        return False


def _estimate(model, data: _Data, o: FitOptions, latents_file: Path, captions_file: Path, done: int, log) -> None:
    """Say how long the fit will take, from one timed batch of each kind of work still to do."""
    from muse_cli.prompt.text import load_text_encoder
    from muse_cli.training.prompt_trainer import step_seconds

    win, texts = data.win, data.texts
    t_enc = t_emb = 0.0
    if not _is_cached(latents_file, data.win_key):
        n = min(len(win), ENCODE_CHUNK)
        t0 = time.time()
        model.encode_events(win.events[:n])
        t_enc = (time.time() - t0) / n * len(win)
    if not _is_cached(captions_file, data.cap_key):
        enc = load_text_encoder()
        n = min(len(texts), EMBED_BATCH)
        enc.embed(texts[:8])  # warm-up, not timed
        t0 = time.time()
        enc.embed(texts[:n])
        t_emb = (time.time() - t0) / n * len(texts)
    t_train = step_seconds(model, o) * max(0, o.steps - done)
    total = t_enc + t_emb + t_train
    parts = [
        f"encoding {len(win)} windows ~{_minutes(t_enc)}" if t_enc else "window latents cached",
        f"embedding {len(texts)} captions ~{_minutes(t_emb)}" if t_emb else "caption embeddings cached",
        f"{o.steps - done} training steps ~{_minutes(t_train)}" + (f" (resuming at step {done})" if done else ""),
    ]
    log(f"fit-prompt: about {_minutes(total)} for checkpoint {model.name} (z {model.z_size}): " + ", ".join(parts))


def fit_probe(win, match: list[np.ndarray], h: np.ndarray, mask: np.ndarray):
    """The feature probe (muse_cli.prompt.select) on the head's captions: seconds of numpy."""
    from muse_cli.prompt.select import pooled

    emb = np.concatenate([pooled(h[b : b + 512], mask[b : b + 512]) for b in range(0, len(h), 512)])
    return probe_from(emb, win.feats, match)


PROBE_RIDGE = 1.0


def probe_from(emb: np.ndarray, feats: dict, match: list[np.ndarray], ridge: float = PROBE_RIDGE):
    """A FeatureProbe: ridge regression (scikit-learn, penalty ``ridge * captions / 100``) from caption
    embeddings [c, d] to the mean standardized features of each caption's matching windows (``match[c]``
    indexes ``feats``' arrays)."""
    from sklearn.linear_model import Ridge

    from muse_cli.prompt.select import FEATURES, FeatureProbe

    f = np.stack([np.asarray(feats[k], np.float64) for k in FEATURES], 1)
    mean, std = f.mean(0), np.maximum(f.std(0), 1e-3)
    fz = (f - mean) / std
    keep = [c for c, m in enumerate(match) if len(m)]
    y = np.stack([fz[match[c]].mean(0) for c in keep])
    x = np.asarray(emb, np.float64)[keep]
    reg = Ridge(alpha=ridge * len(keep) / 100.0, solver="cholesky").fit(x, y)
    w, b = reg.coef_.T, reg.intercept_
    return FeatureProbe(w, b, mean, std, reference=x.mean(0) @ w + b)


def _saved_step(state_dir: Path, run_key: str) -> int:
    try:
        meta = json.loads((state_dir / "run.json").read_text())
    except (OSError, ValueError):
        return 0
    return int(meta.get("step", 0)) if meta.get("key") == run_key else 0
