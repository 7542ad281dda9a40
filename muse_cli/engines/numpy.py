"""MusicVAE inference in NumPy: the same maths as magenta's graph, from the same weights.

Decoder (magenta's ``CategoricalLstmDecoder``): ``z_to_initial_state`` = tanh(z W + b) split into
each layer's (c, h); at every step the input is [previous sample one-hot, z]; LSTM layers as
TensorFlow's ``LSTMBlockCell`` (gates i, j, f, o; forget bias 1.0); ``output_projection`` gives
logits; the sample is argmax(logits / T + gumbel noise), the noise fed by the caller.
Encoder (magenta's ``BidirectionalLstmEncoder``): stacked bidirectional LSTM layers, the last
layer's final forward and backward h concatenated; mu = dense, sigma = softplus(dense).

No TensorFlow here: importing NumPy and reading the exported weights is all a melody costs.
Float rounding differs from TensorFlow's in the last bits, so now and then (measured in
tests/test_engines.py) a sampled step whose two best classes tie to 1e-6 can go the other way.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from muse_cli.encoding import NUM_CLASSES, WINDOW_STEPS
from muse_cli.engines.base import Engine
from muse_cli.errors import CheckpointError

FORGET_BIAS = 1.0
_DEC_CELL = re.compile(r"decoder/multi_rnn_cell/cell_(\d+)/lstm_cell/kernel$")
_ENC_CELL = re.compile(r"encoder/cell_(\d+)/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel$")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.float32(1.0) / (np.float32(1.0) + np.exp(-x))


def _lstm(gates: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One LSTMBlockCell step from its pre-activations [n, 4h]: (new c, new h)."""
    i, j, f, o = np.split(gates, 4, axis=1)
    c = _sigmoid(f + np.float32(FORGET_BIAS)) * c + _sigmoid(i) * np.tanh(j)
    return c, _sigmoid(o) * np.tanh(c)


class _Layer:
    """An LSTM layer's weights: the kernel split into its input rows and its recurrent rows."""

    def __init__(self, kernel: np.ndarray, bias: np.ndarray):
        self.units = bias.shape[0] // 4
        self.w_in = np.ascontiguousarray(kernel[: -self.units])
        self.w_h = np.ascontiguousarray(kernel[-self.units :])
        self.bias = bias


def _layers(weights: dict, pattern: re.Pattern, kernel_name) -> list[_Layer]:
    count = sum(1 for k in weights if pattern.search(k))
    return [_Layer(weights[kernel_name(i)], weights[kernel_name(i)[: -len("kernel")] + "bias"]) for i in range(count)]


class NumpyEngine(Engine):
    """A checkpoint's exported weights (:mod:`muse_cli.engines.weights`) run by NumPy."""

    kind = "numpy"
    chunk = 256

    def __init__(self, weights: dict, checkpoint: Path, name: str, sha256: str = "", batch_size: int = 256):
        try:
            self._dec = _layers(weights, _DEC_CELL, lambda i: f"decoder/multi_rnn_cell/cell_{i}/lstm_cell/kernel")
            self._fw = _layers(
                weights,
                _ENC_CELL,
                lambda i: f"encoder/cell_{i}/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel",
            )
            self._bw = _layers(
                weights,
                _ENC_CELL,
                lambda i: f"encoder/cell_{i}/bidirectional_rnn/bw/multi_rnn_cell/cell_0/lstm_cell/kernel",
            )
            self._init_w, self._init_b = (
                weights["decoder/z_to_initial_state/kernel"],
                weights["decoder/z_to_initial_state/bias"],
            )
            self._out_w, self._out_b = (
                weights["decoder/output_projection/kernel"],
                weights["decoder/output_projection/bias"],
            )
            self._mu = (weights["encoder/mu/kernel"], weights["encoder/mu/bias"])
            self._sigma = (weights["encoder/sigma/kernel"], weights["encoder/sigma/bias"])
        except KeyError as exc:
            raise CheckpointError(
                f"checkpoint {checkpoint} lacks variable {exc.args[0]}: not a 2-bar melody MusicVAE (cat-mel_2bar_*)"
            ) from None
        z_size = self._init_w.shape[0]
        if not self._dec or self._dec[0].w_in.shape[0] != NUM_CLASSES + z_size:
            raise CheckpointError(
                f"checkpoint {checkpoint}: decoder input is not 90 melody classes + z; "
                "muse's NumPy engine drives cat-mel_2bar_* models (try --engine magenta)"
            )
        super().__init__(checkpoint, name, sha256, z_size, batch_size)
        first = self._dec[0]
        self._w_prev = first.w_in[:NUM_CLASSES]  # one-hot input: a row lookup
        self._w_z = first.w_in[NUM_CLASSES:]

    # -- decoder ------------------------------------------------------------------
    def _initial_state(self, z: np.ndarray) -> list[list[np.ndarray]]:
        flat = np.tanh(z @ self._init_w + self._init_b)
        state, pos = [], 0
        for layer in self._dec:  # MultiRNNCell state order: (c0, h0), (c1, h1), ...
            u = layer.units
            state.append([flat[:, pos : pos + u], flat[:, pos + u : pos + 2 * u]])
            pos += 2 * u
        return state

    def _decode_batch(self, z: np.ndarray, temperature: float, noise: np.ndarray) -> np.ndarray:
        n = len(z)
        state = self._initial_state(z)
        z_gates = z @ self._w_z + self._dec[0].bias  # the z part of layer 0's input never changes
        prev = None
        out = np.zeros((n, WINDOW_STEPS), np.int64)
        temp = np.float32(temperature)
        for t in range(WINDOW_STEPS):
            x = None
            for k, layer in enumerate(self._dec):
                c, h = state[k]
                if k == 0:
                    gates = z_gates + h @ layer.w_h
                    if prev is not None:
                        gates += self._w_prev[prev]
                else:
                    gates = x @ layer.w_in + h @ layer.w_h + layer.bias
                c, h = _lstm(gates, c)
                state[k] = [c, h]
                x = h
            logits = x @ self._out_w + self._out_b
            prev = np.argmax(logits / temp + noise[:, t], axis=-1)
            out[:, t] = prev
        return out

    # -- encoder ------------------------------------------------------------------
    @staticmethod
    def _run(layer: _Layer, x_gates: np.ndarray, reverse: bool) -> tuple[np.ndarray, np.ndarray]:
        """One direction over time: every step's h [n, T, u] (input order) and the final h."""
        n, steps = x_gates.shape[:2]
        c = np.zeros((n, layer.units), np.float32)
        h = np.zeros((n, layer.units), np.float32)
        hs = np.zeros((n, steps, layer.units), np.float32)
        for t in range(steps - 1, -1, -1) if reverse else range(steps):
            c, h = _lstm(x_gates[:, t] + h @ layer.w_h, c)
            hs[:, t] = h
        return hs, h

    def encode_events(self, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        events = np.asarray(events, dtype=np.int64)
        x = None
        for k, (fw, bw) in enumerate(zip(self._fw, self._bw)):
            if k == 0:  # one-hot input: a row lookup
                fw_in, bw_in = fw.w_in[events] + fw.bias, bw.w_in[events] + bw.bias
            else:
                fw_in, bw_in = x @ fw.w_in + fw.bias, x @ bw.w_in + bw.bias
            hs_fw, last_fw = self._run(fw, fw_in, reverse=False)
            hs_bw, last_bw = self._run(bw, bw_in, reverse=True)
            x = np.concatenate([hs_fw, hs_bw], axis=-1)
        enc = np.concatenate([last_fw, last_bw], axis=-1)
        mu = enc @ self._mu[0] + self._mu[1]
        sigma = np.logaddexp(np.float32(0.0), enc @ self._sigma[0] + self._sigma[1])
        return mu.astype(np.float32), sigma.astype(np.float32)
