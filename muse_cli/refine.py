"""Latent refinement: a few gradient steps on z against the decoder's own reconstruction loss.

The encoder gives mu in one pass (amortized inference), and misses what the decoder could do: a z
fitted to one window reconstructs it better than the encoder's guess (semi-amortized VAEs, Kim et
al. 2018). Starting from mu, :func:`refine` takes N Adam steps on the teacher-forced cross-entropy of
the window under the frozen decoder (:meth:`muse_cli.engines.base.Engine.reconstruction_loss_grad`:
the NumPy engine backpropagates through its LSTM, the magenta engine asks TensorFlow). NumPy only:
refining a melody imports no TensorFlow.

:func:`means` is what every recipe that reads a melody calls: the encoder mean, refined by
``DEFAULT_REFINE`` steps unless told otherwise (``--refine 0``: the encoder mean itself).
"""

from __future__ import annotations

import numpy as np

LEARNING_RATE = 0.05
# tf.keras's Adam defaults, as the TensorFlow refinement that came before used them
BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-7
DEFAULT_REFINE = 50  # steps: the fewest measured that meet the reconstruction targets (bench/bench_refine.py, README)
CHUNK = 256  # windows refined at once


def refine(model, events: np.ndarray, mu: np.ndarray, steps: int, learning_rate: float = LEARNING_RATE) -> np.ndarray:
    """z for each window of ``events`` [n, 32]: ``steps`` Adam steps from ``mu`` [n, z_size] on the
    decoder's reconstruction loss of that window. ``steps`` = 0 gives ``mu`` back."""
    return refine_each(model, events, mu, [steps], learning_rate)[steps]


def refine_each(
    model, events: np.ndarray, mu: np.ndarray, steps: list[int], learning_rate: float = LEARNING_RATE
) -> dict[int, np.ndarray]:
    """{k: :func:`refine` (..., k)} for every k in ``steps``, from one run: Adam's first k steps do not
    depend on how many follow. A window repeated with the same mu (a tune's repeats) is refined once."""
    mu = np.asarray(mu, np.float32)
    events = np.asarray(events, np.int64)
    if len(mu) == 0 or max(steps) <= 0:
        return {k: mu for k in steps}
    rows = np.concatenate([events.astype(np.float32), mu], axis=1)  # float32 holds the classes exactly
    _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    events, mu = events[first], mu[first]
    out = {k: np.empty_like(mu) for k in steps}
    for b in range(0, len(mu), CHUNK):
        for k, z in _adam(model, events[b : b + CHUNK], mu[b : b + CHUNK], steps, learning_rate).items():
            out[k][b : b + CHUNK] = z
    return {k: z[inverse.reshape(-1)] for k, z in out.items()}


def _adam(model, events: np.ndarray, z0: np.ndarray, keep: list[int], learning_rate: float) -> dict[int, np.ndarray]:
    """z after each step count in ``keep`` of Adam on z from ``z0``; each window's update is its own."""
    z = z0.copy()
    m = np.zeros_like(z)
    v = np.zeros_like(z)
    out = {k: z0.copy() for k in keep if k <= 0}
    for t in range(1, max(keep) + 1):
        _, grad = model.reconstruction_loss_grad(z, events)
        m += (grad - m) * np.float32(1 - BETA_1)
        v += (grad * grad - v) * np.float32(1 - BETA_2)
        alpha = np.float32(learning_rate * np.sqrt(1 - BETA_2**t) / (1 - BETA_1**t))
        z -= m * alpha / (np.sqrt(v) + np.float32(EPSILON))
        if t in keep:
            out[t] = z.copy()
    return out


def means(model, events: np.ndarray, steps: int = DEFAULT_REFINE) -> np.ndarray:
    """The latent of each window of ``events`` [n, 32]: the encoder mean refined by ``steps`` steps
    (0: the encoder mean itself). What encode, decode --midi, vary, continue and interpolate use."""
    mu, _ = model.encode_events(events)
    return refine(model, events, mu, steps)
