"""MusicVAE melody inference in NumPy: the same maths as magenta's graph, from the same weights.

Decoder (magenta's ``CategoricalLstmDecoder``, :class:`muse_cli.engines.sequence.CoreDecoder`'s weights):
``z_to_initial_state`` = tanh(z W + b) split into each layer's (c, h); at every step the input is
[previous sample one-hot, z]; LSTM layers as TensorFlow's ``LSTMBlockCell`` (:mod:`muse_cli.engines.lstm`);
``output_projection`` gives logits; the sample is argmax(logits / T + gumbel noise), the noise fed by the
caller. The melody events API here keeps its own fast paths (one-hot inputs as row lookups, the taped
teacher-forced pass and its backpropagation); the tensor-level API is :class:`SequenceEngine`'s.
Encoder: :class:`muse_cli.engines.lstm.Encoder`.

No TensorFlow here: importing NumPy and reading the exported weights is all a melody costs.
Float rounding differs from TensorFlow's in the last bits, so now and then (measured in
tests/test_engines.py) a sampled step whose two best classes tie to 1e-6 can go the other way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from muse_cli.encoding import NUM_CLASSES, WINDOW_STEPS
from muse_cli.engines.lstm import FORGET_BIAS, lstm_step, sigmoid
from muse_cli.engines.sequence import SequenceEngine
from muse_cli.engines.spec import Spec, spec_for
from muse_cli.errors import CheckpointError


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
        a[:] = sigmoid(gates)
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


class NumpyEngine(SequenceEngine):
    """A 2-bar melody checkpoint's exported weights (:mod:`muse_cli.engines.weights`) run by NumPy: the
    melody events API (with its loss gradient) beside the tensor-level one (:class:`SequenceEngine`)."""

    def __init__(
        self,
        weights: dict,
        checkpoint: Path,
        name: str,
        sha256: str = "",
        batch_size: int = 256,
        config: str = "cat-mel_2bar_small",
    ):
        spec = spec_for(config) or Spec(config, "melody", "categorical", WINDOW_STEPS, NUM_CLASSES, NUM_CLASSES)
        try:
            super().__init__(weights, spec, checkpoint, name, sha256, batch_size)
        except CheckpointError as exc:
            raise CheckpointError(
                f"{exc}; muse's NumPy engine drives 2-bar melody models (cat-mel_2bar_*) and the configs "
                "of muse_cli.engines.spec (try --engine magenta)"
            ) from None
        if not spec.melody_events:
            raise CheckpointError(f"checkpoint {checkpoint}: config {config} is not a 2-bar melody model")
        decoder = self.decoder
        self._dec = decoder.layers
        self._init_w, self._init_b = decoder.init_w, decoder.init_b
        self._out_w, self._out_b = decoder.out_w, decoder.out_b
        self._w_prev = decoder.w_prev  # one-hot input: a row lookup
        self._w_z = decoder.w_z

    # -- decoder ------------------------------------------------------------------
    def _initial_state(self, z: np.ndarray) -> list[list[np.ndarray]]:
        return self._split_state(np.tanh(z @ self._init_w + self._init_b))

    def _split_state(self, flat: np.ndarray) -> list[list[np.ndarray]]:
        return self.decoder.split_state(flat)  # MultiRNNCell state order: (c0, h0), (c1, h1), ...

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
                c, h = lstm_step(gates, c)
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
    def encode_events(self, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        events = np.asarray(events, dtype=np.int64)
        fw, bw = self.encoder.fw[0], self.encoder.bw[0]
        return self.encoder.posterior(fw.w_in[events] + fw.bias, bw.w_in[events] + bw.bias)  # one-hot: a lookup
