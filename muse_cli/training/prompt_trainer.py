"""The prompt head's training in TensorFlow: Gaussian NLL, the optimizer, a compiled step, the resumable loop.

muse_cli.training.prompt_head prepares the data and calls :func:`train`. Every batch is drawn from
``default_rng([seed, 11, step])``, so a resumed run trains on exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from muse_cli.progress import Progress


def _nll(mean, logvar, y):
    import tensorflow as tf

    return tf.reduce_mean(0.5 * (logvar + tf.square(y - mean) * tf.exp(-logvar) + np.log(2 * np.pi)))


def trainer(head, opt, z_size: int):
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


def optimizer(o):
    import tensorflow as tf

    schedule = tf.keras.optimizers.schedules.CosineDecay(o.learning_rate, max(1, o.steps), alpha=0.05)
    return tf.keras.optimizers.Adam(learning_rate=schedule)


def step_seconds(model, o) -> float:
    """Seconds of one training step, timed on a throwaway head with zeros."""
    from muse_cli.prompt.head import PromptHead

    probe = PromptHead(model.z_size)
    probe_step = trainer(probe, optimizer(o), model.z_size)
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
    return (time.time() - t0) / 3


def train(model, data, mu, emb, o, state_dir: Path, done: int, stop_after: int | None, progress: bool, identity: str):
    """Train the head from step ``done`` (restored from ``state_dir``) to the end or ``stop_after`` more steps.

    ``data`` is fit._Data, ``o`` fit.FitOptions; ``progress`` shows a bar of the steps. Returns
    (head, losses, the step reached); the state is saved every ``o.save_every`` steps and where it stops.
    """
    import tensorflow as tf

    from muse_cli.prompt.head import PromptHead

    h_all, mask_all = emb["h"], emb["mask"]
    tf.keras.utils.set_random_seed(o.seed)
    head = PromptHead(model.z_size, checkpoint_sha256=identity)
    head.set_target_stats(mu)
    opt = optimizer(o)
    step_var = tf.Variable(0, dtype=tf.int64)
    ckpt = tf.train.Checkpoint(head=head.keras, opt=opt, step=step_var)
    manager = tf.train.CheckpointManager(ckpt, str(state_dir), max_to_keep=1)
    if done and manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint)
        done = int(step_var.numpy())
    else:
        done = 0
    train_step = trainer(head, opt, model.z_size)

    def batch_of(step: int):
        rng = np.random.default_rng([o.seed, 11, step])
        ci = rng.integers(len(data.texts), size=o.batch)
        wi = np.array([data.match[c][rng.integers(len(data.match[c]))] for c in ci])
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
        (state_dir / "run.json").write_text(json.dumps({"key": data.run_key, "step": step}))

    end = o.steps if stop_after is None else min(o.steps, done + stop_after)
    losses = []
    with Progress(o.steps, "training head", "steps", start=done, quiet=not (progress and done < end)) as bar:
        for step in range(done, end):
            losses.append(float(train_step(*batch_of(step))))
            bar.advance(1)
            if (step + 1) % o.save_every == 0 or step + 1 == o.steps:
                save_state(step + 1)
    if end < o.steps:
        save_state(end)
    return head, losses, end
