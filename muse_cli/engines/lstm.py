"""The LSTM maths every NumPy decoder and encoder shares, from TensorFlow's exported weights.

The cell is TensorFlow's ``LSTMBlockCell`` (gates i, j, f, o; forget bias 1.0), a layer's kernel is
[input rows; recurrent rows]. The encoder is magenta's ``BidirectionalLstmEncoder``: stacked
bidirectional layers, the last layer's final forward and backward h concatenated; mu = dense,
sigma = softplus(dense). NumPy only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

FORGET_BIAS = 1.0


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x). Below x = -88 e^-x overflows to inf in float32 and the quotient is 0, the right
    limit: the overflow is expected, so it is not reported (latents of 1e4 printed a RuntimeWarning)."""
    with np.errstate(over="ignore"):
        return np.float32(1.0) / (np.float32(1.0) + np.exp(-x))


def lstm_step(gates: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One LSTMBlockCell step from its pre-activations [n, 4h]: (new c, new h)."""
    i, j, f, o = np.split(gates, 4, axis=1)
    c = sigmoid(f + np.float32(FORGET_BIAS)) * c + sigmoid(i) * np.tanh(j)
    return c, sigmoid(o) * np.tanh(c)


class Layer:
    """An LSTM layer's weights: the kernel split into its input rows and its recurrent rows."""

    def __init__(self, kernel: np.ndarray, bias: np.ndarray):
        self.units = bias.shape[0] // 4
        self.w_in = np.ascontiguousarray(kernel[: -self.units])
        self.w_h = np.ascontiguousarray(kernel[-self.units :])
        self.bias = bias

    @functools.cached_property
    def w_h_t(self) -> np.ndarray:
        """The recurrent rows transposed, contiguous (backprop's product is twice as fast so)."""
        return np.ascontiguousarray(self.w_h.T)

    @functools.cached_property
    def w_in_t(self) -> np.ndarray:
        return np.ascontiguousarray(self.w_in.T)


def layers(weights: dict, kernel_name: Callable[[int], str]) -> list[Layer]:
    """The layers whose kernels are named ``kernel_name(0)``, ``kernel_name(1)``, ... (biases beside them)."""
    found: list[Layer] = []
    while kernel_name(len(found)) in weights:
        name = kernel_name(len(found))
        found.append(Layer(weights[name], weights[name[: -len("kernel")] + "bias"]))
    return found


def run(layer: Layer, x_gates: np.ndarray, reverse: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One direction of one layer over time from zero state, given its input products [n, T, 4u]:
    every step's h [n, T, u] (input order) and the final h."""
    n, steps = x_gates.shape[:2]
    c = np.zeros((n, layer.units), np.float32)
    h = np.zeros((n, layer.units), np.float32)
    hs = np.zeros((n, steps, layer.units), np.float32)
    for t in range(steps - 1, -1, -1) if reverse else range(steps):
        c, h = lstm_step(x_gates[:, t] + h @ layer.w_h, c)
        hs[:, t] = h
    return hs, h


class Encoder:
    """magenta's BidirectionalLstmEncoder with its mu and sigma layers, from weights under ``prefix``."""

    def __init__(self, weights: dict, prefix: str = "encoder/"):
        cell = prefix + "cell_{}/bidirectional_rnn/{}/multi_rnn_cell/cell_0/lstm_cell/kernel"
        self.fw = layers(weights, lambda i: cell.format(i, "fw"))
        self.bw = layers(weights, lambda i: cell.format(i, "bw"))
        self.mu = (weights[prefix + "mu/kernel"], weights[prefix + "mu/bias"])
        self.sigma = (weights[prefix + "sigma/kernel"], weights[prefix + "sigma/bias"])
        if not self.fw or len(self.fw) != len(self.bw):
            raise KeyError(cell.format(0, "fw"))

    @property
    def input_depth(self) -> int:
        return self.fw[0].w_in.shape[0]

    def encode(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior (mu, sigma) [n, z] of dense inputs [n, T, input_depth] (controls already appended)."""
        x = np.asarray(x, np.float32)
        fw, bw = self.fw[0], self.bw[0]
        return self.posterior(x @ fw.w_in + fw.bias, x @ bw.w_in + bw.bias)

    def posterior(self, fw_in: np.ndarray, bw_in: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mu, sigma) from the first layer's input products [n, T, 4u] in each direction."""
        x = None
        for k, (fw, bw) in enumerate(zip(self.fw, self.bw)):
            if k:
                fw_in, bw_in = x @ fw.w_in + fw.bias, x @ bw.w_in + bw.bias
            hs_fw, last_fw = run(fw, fw_in, reverse=False)
            hs_bw, last_bw = run(bw, bw_in, reverse=True)
            x = np.concatenate([hs_fw, hs_bw], axis=-1)
        enc = np.concatenate([last_fw, last_bw], axis=-1)
        mu = enc @ self.mu[0] + self.mu[1]
        sigma = np.logaddexp(np.float32(0.0), enc @ self.sigma[0] + self.sigma[1])
        return mu.astype(np.float32), sigma.astype(np.float32)
