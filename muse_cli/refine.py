"""Latent refinement: a few gradient steps on z against the decoder's own reconstruction loss.

The encoder gives mu in one pass (amortized inference), and misses what the decoder could do: a z
fitted to one window reconstructs it better than the encoder's guess (semi-amortized VAEs, Kim et
al. 2018). Starting from mu, :func:`refine` takes N Adam steps on the teacher-forced cross-entropy of
the window under the frozen decoder: the input at step t is the true event t-1, the target event t.
The decoder is the checkpoint's, run in TensorFlow for its gradients (about 6 s to import once), with
the same maths as :mod:`muse_cli.engines.numpy`.
"""

from __future__ import annotations

import numpy as np

from muse_cli.encoding import NUM_CLASSES
from muse_cli.engines import weights as exported

LEARNING_RATE = 0.05
CHUNK = 512  # windows refined at once


def _decoder_loss(tf, w: dict, layers: int):
    """A function (z [n, z_size], onehot targets [n, T, 90]) -> per-window summed cross-entropy."""
    dec = [
        (
            tf.constant(w[f"decoder/multi_rnn_cell/cell_{k}/lstm_cell/kernel"]),
            tf.constant(w[f"decoder/multi_rnn_cell/cell_{k}/lstm_cell/bias"]),
        )
        for k in range(layers)
    ]
    init_w = tf.constant(w["decoder/z_to_initial_state/kernel"])
    init_b = tf.constant(w["decoder/z_to_initial_state/bias"])
    out_w, out_b = tf.constant(w["decoder/output_projection/kernel"]), tf.constant(w["decoder/output_projection/bias"])

    def loss(z, targets):
        flat = tf.tanh(z @ init_w + init_b)
        units = [int(b.shape[0]) // 4 for _, b in dec]
        state, pos = [], 0
        for u in units:
            state.append((flat[:, pos : pos + u], flat[:, pos + u : pos + 2 * u]))
            pos += 2 * u
        steps = targets.shape[1]
        prev = tf.zeros_like(targets[:, 0])
        total = 0.0
        for t in range(steps):
            x = tf.concat([prev, z], axis=1)
            for k, (kernel, bias) in enumerate(dec):
                c, h = state[k]
                i, j, f, o = tf.split(tf.concat([x, h], 1) @ kernel + bias, 4, axis=1)
                c = tf.sigmoid(f + 1.0) * c + tf.sigmoid(i) * tf.tanh(j)
                h = tf.sigmoid(o) * tf.tanh(c)
                state[k] = (c, h)
                x = h
            logits = x @ out_w + out_b
            total += tf.nn.softmax_cross_entropy_with_logits(labels=targets[:, t], logits=logits)
            prev = targets[:, t]
        return total

    return loss


def refine(model, events: np.ndarray, mu: np.ndarray, steps: int, learning_rate: float = LEARNING_RATE) -> np.ndarray:
    """z for each window of ``events`` [n, 32]: ``steps`` Adam steps from ``mu`` [n, z_size] on the
    decoder's reconstruction loss of that window. ``steps`` = 0 gives ``mu`` back."""
    mu = np.asarray(mu, np.float32)
    if steps <= 0 or len(mu) == 0:
        return mu
    from muse_cli.quiet import quiet_tensorflow

    quiet_tensorflow()
    import tensorflow as tf

    w = exported.load(model.checkpoint)
    layers = sum(1 for k in w if k.startswith("decoder/multi_rnn_cell/") and k.endswith("/kernel"))
    loss_of = _decoder_loss(tf, w, layers)
    out = np.empty_like(mu)
    for b in range(0, len(mu), CHUNK):
        targets = np.eye(NUM_CLASSES, dtype=np.float32)[np.asarray(events[b : b + CHUNK], np.int64)]
        out[b : b + CHUNK] = _fit(tf, loss_of, mu[b : b + CHUNK], targets, steps, learning_rate)
    return out


def _fit(tf, loss_of, z0: np.ndarray, targets: np.ndarray, steps: int, learning_rate: float) -> np.ndarray:
    """``steps`` Adam steps on z from ``z0``; windows are independent, so the sum's gradient is each one's."""
    z = tf.Variable(z0)
    targets = tf.constant(targets)
    opt = tf.keras.optimizers.Adam(learning_rate)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(loss_of(z, targets))
        opt.apply_gradients([(tape.gradient(loss, z), z)])

    for _ in range(steps):
        step()
    return z.numpy()
