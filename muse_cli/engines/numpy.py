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

import functools
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
    """1 / (1 + e^-x). Below x = -88 e^-x overflows to inf in float32 and the quotient is 0, the right
    limit: the overflow is expected, so it is not reported (latents of 1e4 printed a RuntimeWarning)."""
    with np.errstate(over="ignore"):
        return np.float32(1.0) / (np.float32(1.0) + np.exp(-x))


def _lstm(gates: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One LSTMBlockCell step from its pre-activations [n, 4h]: (new c, new h)."""
    i, j, f, o = np.split(gates, 4, axis=1)
    c = _sigmoid(f + np.float32(FORGET_BIAS)) * c + _sigmoid(i) * np.tanh(j)
    return c, _sigmoid(o) * np.tanh(c)


def _run_taped(layer, x_gates: np.ndarray, c: np.ndarray, h: np.ndarray) -> tuple:
    """One decoder layer over time from its input products [n, T, 4u], keeping what backprop needs:
    gate activations [n, T, 4u] (sigmoid i, tanh j, sigmoid f, sigmoid o), c [n, T + 1, u] from the
    initial state on, tanh(c) [n, T, u] and h [n, T, u]."""
    n, steps, width = x_gates.shape
    u = width // 4
    acts = np.empty((n, steps, width), np.float32)
    cs = np.empty((n, steps + 1, u), np.float32)
    tanh_c = np.empty((n, steps, u), np.float32)
    hs = np.empty((n, steps, u), np.float32)
    cs[:, 0] = c
    for t in range(steps):
        gates = x_gates[:, t] + h @ layer.w_h
        gates[:, 2 * u : 3 * u] += np.float32(FORGET_BIAS)
        a = acts[:, t]
        a[:] = _sigmoid(gates)
        a[:, u : 2 * u] = np.tanh(gates[:, u : 2 * u])
        cs[:, t + 1] = a[:, 2 * u : 3 * u] * cs[:, t] + a[:, :u] * a[:, u : 2 * u]
        tanh_c[:, t] = np.tanh(cs[:, t + 1])
        h = hs[:, t] = a[:, 3 * u :] * tanh_c[:, t]
    return acts, cs, tanh_c, hs


def _back_taped(layer, taped: tuple, dh_in: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through time in one layer, from d loss / d h [n, T, u] at each step (from above):
    d loss / d gates [n, T, 4u] and d loss / d the initial (c, h)."""
    acts, cs, tanh_c, _ = taped
    n, steps, u = tanh_c.shape
    i, j, f, o = (acts[..., k * u : (k + 1) * u] for k in range(4))
    # d gates = [dc, dc, dc, dh] * these factors, which need no recursion
    factors = np.concatenate([j * i * (1 - i), i * (1 - j * j), cs[:, :-1] * f * (1 - f), tanh_c * o * (1 - o)], -1)
    to_c = o * (1 - tanh_c * tanh_c)
    dgates = np.empty_like(acts)
    dh = np.zeros((n, u), np.float32)
    dc = np.zeros((n, u), np.float32)
    for t in range(steps - 1, -1, -1):
        dh = dh + dh_in[:, t]
        dc = dc + dh * to_c[:, t]
        g = dgates[:, t]
        g[:] = np.concatenate([dc, dc, dc, dh], axis=1) * factors[:, t]
        dc = dc * f[:, t]
        dh = g @ layer.w_h_t
    return dgates, dc, dh


class _Layer:
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
        return self._split_state(np.tanh(z @ self._init_w + self._init_b))

    def _split_state(self, flat: np.ndarray) -> list[list[np.ndarray]]:
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

    # -- the teacher-forced loss and its gradient ------------------------------------
    def reconstruction_loss_grad(self, z: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = self.check_latents(z)
        events = np.asarray(events, dtype=np.int64)
        flat = np.tanh(z @ self._init_w + self._init_b)
        logits, tape = self._teacher_forced(z, flat, events)
        top = logits.max(axis=-1, keepdims=True)
        exp = np.exp(logits - top)
        total = exp.sum(axis=-1, keepdims=True)
        rows, steps = np.indices(events.shape)
        loss = (np.log(total[..., 0]) + top[..., 0] - logits[rows, steps, events]).sum(axis=1)
        dlogits = exp / total
        dlogits[rows, steps, events] -= np.float32(1.0)  # softmax minus the one-hot target
        return loss.astype(np.float32), self._backprop(flat, dlogits @ self._out_w.T, tape)

    def _teacher_forced(self, z: np.ndarray, flat: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, list]:
        """Logits [n, T, 90] with the true event t - 1 as the input at step t, layer by layer (each layer's
        input products for all steps at once), and per layer what backprop needs (:func:`_run_taped`)."""
        x_gates = np.empty((*events.shape, 4 * self._dec[0].units), np.float32)
        x_gates[:] = (z @ self._w_z + self._dec[0].bias)[:, None]
        x_gates[:, 1:] += self._w_prev[events[:, :-1]]  # one-hot input (event t - 1): a row lookup
        tape = []
        for layer, (c0, h0) in zip(self._dec, self._split_state(flat)):
            if tape:
                x_gates = tape[-1][-1] @ layer.w_in + layer.bias
            tape.append(_run_taped(layer, x_gates, c0, h0))
        return tape[-1][-1] @ self._out_w + self._out_b, tape

    def _backprop(self, flat: np.ndarray, dh_top: np.ndarray, tape: list) -> np.ndarray:
        """d loss / d z by backpropagation through time, from d loss / d (top layer's h) [n, T, u]."""
        d_state = []
        dh_in = dh_top
        for k in range(len(self._dec) - 1, -1, -1):
            layer = self._dec[k]
            dgates, dc0, dh0 = _back_taped(layer, tape[k], dh_in)
            d_state[:0] = [dc0, dh0]  # the state's (c, h) order, layer by layer
            if k:
                dh_in = dgates @ layer.w_in_t
        d_flat = np.concatenate(d_state, axis=1)
        return dgates.sum(axis=1) @ self._w_z.T + (d_flat * (1 - flat * flat)) @ self._init_w.T

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
