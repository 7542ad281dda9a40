"""Train a prompt head for one checkpoint: captions of real 2-bar windows -> that checkpoint's
encoder means, fitted by Gaussian negative log-likelihood.

The work (caption embeddings, window latents, the head's training state) is cached under
``$MUSE_HOME/prompt-fit/<checkpoint sha256[:16]>/``, so a run that is stopped picks up where it
was; the finished head goes to ``prompt_head/`` in the checkpoint's directory.

    python -m muse_cli.prompt.fit --checkpoint muse-mel_2bar          # the shipped head
    python -m muse_cli.prompt.fit --checkpoint path/to/export --steps 500

Every batch is drawn from ``default_rng([seed, step])``: a resumed run trains on exactly the
batches an uninterrupted one would.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from muse_cli import settings
from muse_cli.errors import MuseError, PromptError

DEFAULT_TUNES = Path("build/corpus/tunes.pkl")
EMBED_BATCH = 64
ENCODE_CHUNK = 1024


@dataclass(frozen=True)
class FitOptions:
    steps: int = 1200  # longer fits learn the training wordings better and paraphrases worse (measured)
    windows: int = 20000
    captions: int = 6000
    batch: int = 128
    learning_rate: float = 2e-3
    seed: int = 0
    save_every: int = 250


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def tunes_path() -> Path:
    """build/corpus/tunes.pkl in a source checkout, else $MUSE_HOME/corpus/tunes.pkl."""
    return DEFAULT_TUNES if DEFAULT_TUNES.exists() else settings.home() / "corpus" / "tunes.pkl"


def load_corpus(path: Path | None = None, log=_stderr) -> list[dict]:
    from muse_cli.training import corpus

    path = Path(path) if path else tunes_path()
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


def _bar(total: int, label: str, unit: str, on: bool, start: int = 0):
    """muse_cli.progress's display, or a silent stand-in when ``on`` is false."""
    from muse_cli.progress import Progress

    return Progress(total, label, unit, start=start) if on else Progress(total, label, unit, every=None, tty=False)


def encode_windows(model, events: np.ndarray, progress: bool = True) -> np.ndarray:
    """Encoder means [n, z] of event arrays [n, 32], in chunks."""
    out = []
    chunks = range(0, len(events), ENCODE_CHUNK)
    with _bar(len(events), "encoding windows", "windows", progress) as bar:
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
    with _bar(len(texts), "embedding captions", "captions", progress) as bar:
        for b in range(0, len(texts), EMBED_BATCH * 4):
            part, m = enc.embed(texts[b : b + EMBED_BATCH * 4])
            h[b : b + len(part), : part.shape[1]] = part.astype(np.float16)
            bar.advance(len(part))
    return h, mask.astype(np.int8)


def _nll(mean, logvar, y):
    import tensorflow as tf

    return tf.reduce_mean(0.5 * (logvar + tf.square(y - mean) * tf.exp(-logvar) + np.log(2 * np.pi)))


def _trainer(head, opt, z_size: int):
    """A compiled training step for ``head`` and ``opt``: (h, mask, target mu) -> loss."""
    import tensorflow as tf

    keras = head.keras  # built here (eagerly) when the head has not made its Keras model yet

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, 384], tf.float32),
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([None, z_size], tf.float32),
            tf.TensorSpec([2], tf.int32),
        ]
    )
    def step(h, m, y, noise_seed):
        with tf.GradientTape() as tape:
            mean, logvar = keras((h, m), training=True, noise_seed=noise_seed)
            loss = _nll(mean, logvar, y)
        variables = keras.trainable_variables
        grads, _ = tf.clip_by_global_norm(tape.gradient(loss, variables), 5.0)
        opt.apply_gradients(zip(grads, variables))
        return loss

    return step


def _optimizer(o: FitOptions):
    import tensorflow as tf

    schedule = tf.keras.optimizers.schedules.CosineDecay(o.learning_rate, max(1, o.steps), alpha=0.05)
    return tf.keras.optimizers.Adam(learning_rate=schedule)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


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

    ``tunes`` is a list of corpus tune dicts or a path to muse_cli.training.corpus's pickle (default:
    :func:`tunes_path`). Says how long it will take before the long parts start.
    """
    from muse_cli.cache import checkpoint_identity
    from muse_cli.engines.magenta import quiet_tensorflow
    from muse_cli.prompt import captions as cap
    from muse_cli.prompt.head import PromptHead, head_dir
    from muse_cli.prompt.text import load_text_encoder

    quiet_tensorflow()
    import tensorflow as tf

    o = options
    t_begin = time.time()
    identity = checkpoint_identity(model.checkpoint)
    work = work_dir(identity)
    work.mkdir(parents=True, exist_ok=True)
    out_dir = Path(out_dir) if out_dir else head_dir(model.checkpoint)
    if not isinstance(tunes, list):
        tunes = load_corpus(tunes, log)

    # -- data: windows, their labels, captions and which windows each caption fits ---------------
    win = cap.collect_windows(tunes, o.windows, seed=o.seed)
    if len(win) < 2:
        raise PromptError("too few corpus windows to fit a prompt head (it needs tunes in 2/4, 4/4 or 2/2)")
    texts, labels = cap.caption_pool(win, o.captions, seed=o.seed)
    match = cap.matches(win, labels)
    win_key = _digest(identity, hashlib.sha256(win.events.tobytes()).hexdigest())
    cap_key = _digest(texts)
    run_key = _digest(o, win_key, cap_key)

    # -- estimate from one timed batch of each kind of work ----------------------------------------
    def cached(name, key: str) -> bool:
        try:
            return str(np.load(work / name)["key"]) == key
        except (OSError, KeyError, ValueError):
            return False

    t_enc = t_emb = 0.0
    if not cached("latents.npz", win_key):
        n = min(len(win), ENCODE_CHUNK)
        t0 = time.time()
        model.encode_events(win.events[:n])
        t_enc = (time.time() - t0) / n * len(win)
    captions_file = work.parent / f"captions-{cap_key}.npz"  # text only: shared by every checkpoint
    if not cached(captions_file, cap_key):
        enc = load_text_encoder()
        n = min(len(texts), EMBED_BATCH)
        enc.embed(texts[:8])  # warm-up, not timed
        t0 = time.time()
        enc.embed(texts[:n])
        t_emb = (time.time() - t0) / n * len(texts)
    state_dir = work / "state"
    done = 0 if restart else _saved_step(state_dir, run_key)
    probe = PromptHead(model.z_size)
    probe_step = _trainer(probe, _optimizer(o), model.z_size)
    fake = (
        np.zeros((o.batch, 24, 384), np.float32),
        np.ones((o.batch, 24), np.int32),
        np.zeros((o.batch, model.z_size), np.float32),
        np.array([0, 0], np.int32),
    )
    probe_step(*fake)  # tracing, not timed
    t0 = time.time()
    for _ in range(3):
        probe_step(*fake)
    t_train = (time.time() - t0) / 3 * max(0, o.steps - done)
    del probe, probe_step
    total = t_enc + t_emb + t_train
    parts = [
        f"encoding {len(win)} windows ~{_minutes(t_enc)}" if t_enc else "window latents cached",
        f"embedding {len(texts)} captions ~{_minutes(t_emb)}" if t_emb else "caption embeddings cached",
        f"{o.steps - done} training steps ~{_minutes(t_train)}" + (f" (resuming at step {done})" if done else ""),
    ]
    log(f"fit-prompt: about {_minutes(total)} for checkpoint {model.name} (z {model.z_size}): " + ", ".join(parts))

    # -- the long parts (each cached) -----------------------------------------------------------------
    mu = _cached(work / "latents.npz", win_key, lambda: {"mu": encode_windows(model, win.events, progress)})["mu"]
    emb = _cached(captions_file, cap_key, lambda: dict(zip(("h", "mask"), embed_captions(texts, progress))))
    h_all, mask_all = emb["h"], emb["mask"]

    tf.keras.utils.set_random_seed(o.seed)
    head = PromptHead(model.z_size, checkpoint_sha256=identity)
    head.set_target_stats(mu)
    opt = _optimizer(o)
    step_var = tf.Variable(0, dtype=tf.int64)
    ckpt = tf.train.Checkpoint(head=head.keras, opt=opt, step=step_var)
    manager = tf.train.CheckpointManager(ckpt, str(state_dir), max_to_keep=1)
    if done and manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint)
        done = int(step_var.numpy())
    else:
        done = 0
    train_step = _trainer(head, opt, model.z_size)

    def batch_of(step: int):
        rng = np.random.default_rng([o.seed, 11, step])
        ci = rng.integers(len(texts), size=o.batch)
        wi = np.array([match[c][rng.integers(len(match[c]))] for c in ci])
        length = max(1, int(mask_all[ci].sum(1).max()))
        return (
            h_all[ci, :length].astype(np.float32),
            mask_all[ci, :length].astype(np.int32),
            mu[wi],
            np.array([o.seed, step], np.int32),
        )

    def save_state(step: int) -> None:
        step_var.assign(step)
        manager.save(checkpoint_number=step)
        (state_dir / "run.json").write_text(json.dumps({"key": run_key, "step": step}))

    end = o.steps if stop_after is None else min(o.steps, done + stop_after)
    losses = []
    with _bar(o.steps, "training head", "steps", progress and done < end, start=done) as bar:
        for step in range(done, end):
            losses.append(float(train_step(*batch_of(step))))
            bar.advance(1)
            if (step + 1) % o.save_every == 0 or step + 1 == o.steps:
                save_state(step + 1)
    if end < o.steps:
        save_state(end)
        log(f"fit-prompt: stopped at step {end} of {o.steps}; run the same command again to resume")
        return None

    tail = float(np.mean(losses[-100:])) if losses else float("nan")
    head.probe = fit_probe(win, match, h_all, mask_all)
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


def fit_probe(win, match: list[np.ndarray], h: np.ndarray, mask: np.ndarray):
    """The feature probe (muse_cli.prompt.select) on the head's captions: seconds of numpy."""
    from muse_cli.prompt.select import FeatureProbe, pooled

    emb = np.concatenate([pooled(h[b : b + 512], mask[b : b + 512]) for b in range(0, len(h), 512)])
    return FeatureProbe.fit(emb, win.feats, match)


def _saved_step(state_dir: Path, run_key: str) -> int:
    try:
        meta = json.loads((state_dir / "run.json").read_text())
    except (OSError, ValueError):
        return 0
    return int(meta.get("step", 0)) if meta.get("key") == run_key else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--checkpoint",
        "-c",
        default=None,
        help="registry name or checkpoint directory (default: the default checkpoint)",
    )
    ap.add_argument("--tunes", type=Path, default=None, help=f"corpus pickle (default {DEFAULT_TUNES})")
    ap.add_argument("--output", type=Path, default=None, help="head directory (default CHECKPOINT/prompt_head)")
    ap.add_argument("--steps", type=int, default=FitOptions.steps)
    ap.add_argument("--windows", type=int, default=FitOptions.windows)
    ap.add_argument("--captions", type=int, default=FitOptions.captions)
    ap.add_argument("--seed", type=int, default=FitOptions.seed)
    ap.add_argument("--restart", action="store_true", help="ignore saved training state")
    args = ap.parse_args(argv)
    from muse_cli.model import load_model

    try:
        model = load_model(args.checkpoint, batch_size=256)
        fit(
            model,
            args.tunes,
            FitOptions(steps=args.steps, windows=args.windows, captions=args.captions, seed=args.seed),
            out_dir=args.output,
            restart=args.restart,
        )
    except MuseError as exc:
        print(f"muse: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
