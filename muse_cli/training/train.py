"""Train muse's default melody MusicVAE on music21's corpus, with magenta's own model code.

Run with ``make train`` (or ``python -m muse_cli.training.train``). The run is seeded and
resumable: it saves its full state (model and Adam slots) every ``--save-every``
steps under ``build/train/state`` and continues from there when started again.
It logs loss, reconstruction accuracy, KL and beta to ``build/train/log.csv`` and
exports the model variables alone (no optimizer slots) to ``build/train/export``
at every evaluation; ``python -m muse_cli.training.ship`` copies the last export into the package.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from muse_cli.encoding import NUM_CLASSES, WINDOW_STEPS
from muse_cli.training import windows

BUILD = windows.BUILD

# Final hyperparameters of the shipped model (see README, "The default model").
HPARAMS = {
    "batch_size": 128,
    "z_size": 128,
    "enc_rnn_size": [256],
    "dec_rnn_size": [256, 256],
    "free_bits": 48,
    "max_beta": 0.2,
    "beta_rate": 0.9995,
    "sampling_schedule": "inverse_sigmoid",
    "sampling_rate": 700,
    "learning_rate": 0.002,
    "decay_rate": 0.99985,
    "min_learning_rate": 0.0001,
}
BASE_CONFIG = windows.BASE_CONFIG


def _onehot(idx: np.ndarray, depth: int = NUM_CLASSES) -> np.ndarray:
    return np.eye(depth, dtype=np.float32)[idx]


# Encoder-only training (issue 12): the decoder's variables stay frozen, bit for bit, so prior samples and
# every seed's bytes stay what they are. The decoder is teacher-forced: with its inputs fixed to the truth,
# the loss measures only how well z carries the window.
ENCODER_STAGE = {"sampling_schedule": "constant", "sampling_rate": 0.0}
TRAINABLE = ("all", "encoder")
VALID_WINDOWS = 2048  # windows of the validation split evaluated at each --eval-every (all of them here)
LOG_COLUMNS = ["step", "wall_s", "loss", "r_loss", "kl_bits", "beta", "sampling_prob", "valid_acc", "valid_note_on_acc"]


def train(
    data: dict[str, np.ndarray],
    workdir: Path,
    max_steps: int,
    seed: int = 0,
    save_every: int = 500,
    eval_every: int = 1000,
    max_minutes: float | None = None,
    hparams: dict | None = None,
    init_from: Path | None = None,
    trainable: str = "all",
    log=print,
) -> Path:
    """Train (or resume) and return the export directory of the latest model variables.

    ``init_from`` (a checkpoint of model variables only, e.g. the shipped one) starts a new workdir from
    those weights and their global step, with fresh optimizer slots; a workdir with saved state ignores it.
    ``trainable="encoder"`` updates only the encoder's variables (the decoder's are left untouched).
    """
    import tensorflow.compat.v1 as tf

    if trainable not in TRAINABLE:
        raise ValueError(f"trainable must be one of {TRAINABLE}")
    hp = dict(HPARAMS, **(hparams or {}))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "hparams.json").write_text(
        json.dumps({"base": BASE_CONFIG, "hparams": hp, "trainable": trainable}, indent=1)
    )
    with tf.Graph().as_default():
        tf.set_random_seed(seed)
        g = _build_graph(hp, trainable)
        session_config = tf.ConfigProto(intra_op_parallelism_threads=os.cpu_count(), inter_op_parallelism_threads=1)
        with tf.Session(config=session_config) as sess:
            sess.run(tf.global_variables_initializer())
            _restore(sess, g, workdir, init_from, log)
            _loop(sess, g, data, workdir, hp, max_steps, seed, save_every, eval_every, max_minutes, init_from, log)
    return workdir / "export"


def _build_graph(hp: dict, trainable: str) -> dict:
    """magenta's MusicVAE training graph, with gradients clipped as magenta's train loop clips them."""
    import tensorflow.compat.v1 as tf

    from muse_cli.configs import build_config

    config = build_config(BASE_CONFIG, hp)
    batch_size = hp["batch_size"]
    model = config.model
    model.build(config.hparams, config.data_converter.output_depth, is_training=True)
    x = tf.placeholder(tf.float32, [batch_size, WINDOW_STEPS, NUM_CLASSES])
    lengths = tf.placeholder(tf.int32, [batch_size])
    optimizer = model.train(x, x, lengths)
    var_list = [v for v in tf.trainable_variables() if trainable == "all" or v.name.startswith("encoder/")]
    grads, var_list = list(zip(*optimizer.compute_gradients(model.loss, var_list=var_list)))
    global_norm = tf.global_norm(grads)
    clipped = tf.cond(
        global_norm < config.hparams.grad_norm_clip_to_zero,
        lambda: tf.clip_by_global_norm(grads, config.hparams.grad_clip, use_norm=global_norm)[0],
        lambda: [tf.zeros(tf.shape(g)) for g in grads],
    )
    train_op = optimizer.apply_gradients(list(zip(clipped, var_list)), global_step=model.global_step)
    beta = (1.0 - tf.pow(config.hparams.beta_rate, tf.to_float(model.global_step))) * config.hparams.max_beta
    fetch = {"loss": model.loss, "beta": beta, "global_norm": global_norm}
    fetch.update(_summary_tensors(tf.get_default_graph()))
    model_vars = tf.trainable_variables() + [model.global_step]
    return {
        "x": x,
        "lengths": lengths,
        "train_op": train_op,
        "fetch": fetch,
        "global_step": model.global_step,
        "state_saver": tf.train.Saver(max_to_keep=2),
        "export_saver": tf.train.Saver(var_list=model_vars, max_to_keep=1),
    }


def _restore(sess, g: dict, workdir: Path, init_from: Path | None, log) -> None:
    import tensorflow.compat.v1 as tf

    latest = tf.train.latest_checkpoint(str(workdir / "state"))
    if latest:
        g["state_saver"].restore(sess, latest)
        log(f"resumed from {latest}")
    elif init_from is not None:
        prefix = tf.train.latest_checkpoint(str(init_from)) or str(Path(init_from) / "model.ckpt")
        g["export_saver"].restore(sess, prefix)
        log(f"started from the model variables of {prefix} (fresh optimizer state)")


def _loop(sess, g, data, workdir, hp, max_steps, seed, save_every, eval_every, max_minutes, init_from, log) -> None:
    """Steps until ``max_steps`` or ``max_minutes``, saving state and evaluating on the way."""
    batch_size, train_x = hp["batch_size"], data["train"]
    step = int(sess.run(g["global_step"]))
    log_path = workdir / "log.csv"
    new_log = not log_path.exists()
    wall0 = _prior_wall(Path(init_from)) if new_log and init_from is not None else _previous_wall(log_path)
    t_start = time.time()
    with open(log_path, "a", newline="") as f:
        writer = csv.writer(f)
        if new_log:
            writer.writerow(LOG_COLUMNS)
        while step < max_steps:
            rng = np.random.default_rng([seed, step])
            batch = windows.augment(train_x[rng.integers(0, len(train_x), size=batch_size)], rng)
            feed = {g["x"]: _onehot(batch), g["lengths"]: np.full(batch_size, WINDOW_STEPS, np.int32)}
            out, _ = sess.run([g["fetch"], g["train_op"]], feed)
            step += 1
            done_minutes = (time.time() - t_start) / 60
            stop = max_minutes is not None and done_minutes >= max_minutes
            if step % save_every == 0 or step == max_steps or stop:
                g["state_saver"].save(sess, str(workdir / "state" / "model.ckpt"), global_step=step)
            if step % eval_every == 0 or step == max_steps or stop:
                export_dir = workdir / "export"
                g["export_saver"].save(sess, str(export_dir / "model.ckpt"), global_step=step, write_meta_graph=False)
                valid = evaluate_reconstruction(export_dir, hp, data["valid"][:VALID_WINDOWS])
                row = [step, round(wall0 + time.time() - t_start, 1), float(out["loss"])]
                row += [float(out.get("r_loss", np.nan)), float(out.get("kl_bits", np.nan)), float(out["beta"])]
                row += [_sampling_prob(hp, step), valid["step_accuracy"], valid["note_on_accuracy"]]
                writer.writerow(row)
                f.flush()
                log(
                    f"step {step}: loss {out['loss']:.3f} kl_bits {out.get('kl_bits', 0):.1f} "
                    f"beta {out['beta']:.3f} valid acc {valid['step_accuracy']:.3f} "
                    f"note-on {valid['note_on_accuracy']:.3f} ({done_minutes:.1f} min)"
                )
            if stop:
                log(f"stopping after {max_minutes} minutes at step {step}")
                break


def _summary_tensors(graph) -> dict:
    """The loss terms magenta's model.train() registers as summaries, by short name."""
    wanted = {"losses/r_loss": "r_loss", "losses/kl_bits": "kl_bits"}
    out = {}
    for op in graph.get_operations():
        if op.type == "ScalarSummary":
            tag = op.inputs[0].op.get_attr("value") if op.inputs[0].op.type == "Const" else None
            tag = tag.string_val[0].decode() if tag is not None else ""
            if tag in wanted:
                out[wanted[tag]] = op.inputs[1]
    return out


def _sampling_prob(hp: dict, step: int) -> float:
    if hp["sampling_schedule"] == "inverse_sigmoid":
        k = hp["sampling_rate"]
        return float(1.0 - k / (k + np.exp(min(step / k, 50.0))))
    return float(hp["sampling_rate"]) if hp["sampling_schedule"] == "constant" else 0.0


def _prior_wall(init_from: Path) -> float:
    """Training wall time behind the variables in ``init_from``: its run's log.csv or its muse.json."""
    prior = _previous_wall(init_from.parent / "log.csv")
    if not prior and (init_from / "muse.json").exists():
        prior = float(json.loads((init_from / "muse.json").read_text()).get("train_wall_s", 0.0))
    return prior


def _previous_wall(log_path: Path) -> float:
    try:
        rows = list(csv.DictReader(open(log_path)))
        return float(rows[-1]["wall_s"]) if rows else 0.0
    except (OSError, KeyError, ValueError):
        return 0.0


def evaluate_reconstruction(checkpoint_dir: Path, hp: dict, windows: np.ndarray) -> dict:
    """Argmax reconstruction of ``windows`` through TrainedModel: step and note-on accuracy."""
    from muse_cli.engines.magenta import MagentaEngine

    model = MagentaEngine.from_config(
        BASE_CONFIG, hp, checkpoint_dir, batch_size=min(256, max(1, len(windows))), name="train-eval"
    )
    try:
        return model.reconstruction_metrics(windows)
    finally:
        model.close()


def plot(log_path: Path, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(open(log_path)))
    step = [int(r["step"]) for r in rows]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, keys, title in [
        (axes[0, 0], ["loss", "r_loss"], "loss"),
        (axes[0, 1], ["valid_acc", "valid_note_on_acc"], "accuracy"),
        (axes[1, 0], ["kl_bits"], "KL (bits)"),
        (axes[1, 1], ["beta", "sampling_prob"], "beta and sampling probability"),
    ]:
        for k in keys:
            ax.plot(step, [float(r[k]) for r in rows], label=k)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=90)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=BUILD / "train")
    ap.add_argument("--tunes", type=Path, default=BUILD / "corpus" / "tunes.json.gz")
    ap.add_argument("--meters", choices=list(windows.METERS), default="duple")
    ap.add_argument(
        "--train-meters",
        choices=list(windows.METERS),
        default=None,
        help="meters of the training windows (default: --meters); validation and test keep --meters",
    )
    ap.add_argument(
        "--decoder-windows",
        type=int,
        default=0,
        help="add N windows made by --init-from's decoder to the training split (the encoder stage)",
    )
    ap.add_argument("--steps", type=int, default=30000)
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=1000)
    ap.add_argument("--save-every", type=int, default=500)
    ap.add_argument("--windows", type=Path, default=None, help="an .npz of train/valid/test windows to use")
    ap.add_argument("--hparams", default="{}", help="JSON overrides of the shipped hparams")
    ap.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="continue from a checkpoint of model variables (e.g. the shipped one)",
    )
    ap.add_argument(
        "--trainable",
        choices=TRAINABLE,
        default="all",
        help="'encoder' trains the encoder alone, teacher-forced, with every decoder variable frozen",
    )
    return ap


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.windows:
        data = dict(np.load(args.windows))
    else:
        data = windows.windows_for(args.meters, args.train_meters, args.tunes, args.workdir.parent)
    if args.decoder_windows:
        made = windows.decoder_windows(args.init_from, data["train"], args.decoder_windows, args.workdir.parent)
        data = {**data, "train": np.concatenate([data["train"], made])}
    print({k: v.shape[0] for k, v in data.items()}, file=sys.stderr)
    train(
        data,
        args.workdir,
        args.steps,
        seed=args.seed,
        save_every=args.save_every,
        eval_every=args.eval_every,
        max_minutes=args.max_minutes,
        hparams=dict(ENCODER_STAGE if args.trainable == "encoder" else {}, **json.loads(args.hparams)),
        init_from=args.init_from,
        trainable=args.trainable,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    plot(args.workdir / "log.csv", args.workdir / "curves.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
