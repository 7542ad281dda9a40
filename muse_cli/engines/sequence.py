"""The tensor-level NumPy engine: magenta's one-level LSTM decoders and its encoder, for every config with a spec.

A decoder (:class:`CoreDecoder`) is magenta's ``BaseLstmDecoder.sample``: z gives the initial state
through tanh(z W + b) (``z_to_initial_state``), the input at step t is [previous sample, z, c_t]
(the start input, zeros by default, at t = 0; c_t only for configs with controls), the top layer's h
goes through ``output_projection``, and a per-step sampler (a small plug-in) turns that output and
the step's noise into the sample:

- :class:`Categorical`: one_hot(argmax(logits / T + g)), g the Gumbel noise of the uniforms;
- :class:`Nade`: unit d on when u_d < sigmoid(l_d / T), l_d the NADE's logit given the units before it;
- :class:`Groove`: hit d on when u_d < sigmoid(hit logit / T); velocities sigmoid, offsets tanh.

The noise is what :func:`muse_cli.engines.base.sampling_noise` makes of the uniforms, exactly what the
magenta engine feeds TensorFlow's seeded decoders (:mod:`muse_cli.decoders`). No TensorFlow here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from muse_cli.engines.base import Engine
from muse_cli.engines.lstm import Encoder, Layer, layers, lstm_step, sigmoid
from muse_cli.engines.spec import Spec
from muse_cli.errors import CheckpointError


class Categorical:
    """One class per step: one_hot(argmax(logits / T + gumbel noise))."""

    def __init__(self, depth: int):
        self.depth = self.projection = depth
        self._eye = np.eye(depth, dtype=np.float32)

    def __call__(self, outputs: np.ndarray, temperature: float, noise: np.ndarray) -> np.ndarray:
        return self._eye[np.argmax(outputs / np.float32(temperature) + noise, axis=-1)]


class Nade:
    """magenta's Nade.sample with external biases (the projection gives [b_enc (H), b_dec (D)]), its
    Bernoulli draws replaced by u_d < sigmoid(l_d / T)."""

    def __init__(self, weights: dict, prefix: str):
        self.w_enc = np.ascontiguousarray(weights[prefix + "nade/w_enc"][:, 0, :])  # [D, H]
        self.w_dec = np.ascontiguousarray(weights[prefix + "nade/w_dec_t"][:, :, 0])  # [D, H]
        self.depth, self.hidden = self.w_enc.shape
        self.projection = self.hidden + self.depth

    def __call__(self, outputs: np.ndarray, temperature: float, u: np.ndarray) -> np.ndarray:
        a = outputs[:, : self.hidden].copy()
        b_dec = outputs[:, self.hidden :]
        temp = np.float32(temperature)
        units = np.zeros((len(outputs), self.depth), np.float32)
        for d in range(self.depth):
            logit = b_dec[:, d] + sigmoid(a) @ self.w_dec[d]
            on = (u[:, d] < sigmoid(logit / temp)).astype(np.float32)
            units[:, d] = on
            a += on[:, None] * self.w_enc[d]
        return units


class Groove:
    """GrooVAE's step: hits (u < sigmoid(logit / T)), velocities (sigmoid), offsets (tanh), a third each."""

    def __init__(self, depth: int):
        self.depth = self.projection = depth

    def __call__(self, outputs: np.ndarray, temperature: float, u: np.ndarray) -> np.ndarray:
        k = self.depth // 3
        hits = (u[:, :k] < sigmoid(outputs[:, :k] / np.float32(temperature))).astype(np.float32)
        return np.concatenate([hits, sigmoid(outputs[:, k : 2 * k]), np.tanh(outputs[:, 2 * k :])], axis=1)


def sampler_for(spec_sampler: str, weights: dict, prefix: str, depth: int):
    """The per-step sampler named by a spec (:data:`muse_cli.engines.spec.SAMPLERS`)."""
    if spec_sampler == "nade":
        return Nade(weights, prefix)
    return Groove(depth) if spec_sampler == "groove" else Categorical(depth)


class CoreDecoder:
    """One LSTM decoder stack from the weights under ``prefix`` ("decoder/" for a one-level model):
    ``multi_rnn_cell/cell_k/lstm_cell``, ``z_to_initial_state``, ``output_projection``."""

    def __init__(self, weights: dict, prefix: str, sampler):
        self.prefix, self.sampler, self.depth = prefix, sampler, sampler.depth
        self.layers: list[Layer] = layers(weights, lambda i: f"{prefix}multi_rnn_cell/cell_{i}/lstm_cell/kernel")
        self.init_w, self.init_b = (weights[prefix + f"z_to_initial_state/{v}"] for v in ("kernel", "bias"))
        self.out_w, self.out_b = (weights[prefix + f"output_projection/{v}"] for v in ("kernel", "bias"))
        self.z_size = self.init_w.shape[0]
        if not self.layers or self.out_w.shape[1] != sampler.projection:
            raise KeyError(prefix + "output_projection/kernel")
        w_in, d, z = self.layers[0].w_in, self.depth, self.z_size  # layer 0's input: [previous sample, z, c_t]
        self.w_prev, self.w_z, self.w_c = w_in[:d], w_in[d : d + z], w_in[d + z :]
        self.control_depth = self.w_c.shape[0]

    def initial_state(self, z: np.ndarray) -> np.ndarray:
        """The flat initial state tanh(z W + b), in MultiRNNCell order (c0, h0, c1, h1, ...)."""
        return np.tanh(z @ self.init_w + self.init_b)

    def split_state(self, flat: np.ndarray) -> list[list[np.ndarray]]:
        state, pos = [], 0
        for layer in self.layers:
            u = layer.units
            state.append([flat[:, pos : pos + u], flat[:, pos + u : pos + 2 * u]])
            pos += 2 * u
        return state

    def decode(
        self,
        z: np.ndarray,
        temperature: float,
        noise: np.ndarray,
        controls: np.ndarray | None = None,
        start: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sample len(noise[0]) steps: (samples [n, L, depth], final state flat [n, sum 2u] in MultiRNNCell
        order). ``noise`` [n, L, depth]: the sampler's noise (:func:`muse_cli.engines.base.sampling_noise`);
        ``controls`` [n, L, c] or None; ``start`` [n, depth]: the input before the first step (default zeros)."""
        n, steps = noise.shape[:2]
        state = self.split_state(self.initial_state(z))
        fixed = z @ self.w_z + self.layers[0].bias  # the z part of layer 0's input never changes
        prev = np.zeros((n, self.depth), np.float32) if start is None else np.asarray(start, np.float32)
        out = np.zeros((n, steps, self.depth), np.float32)
        for t in range(steps):
            x = None
            for k, layer in enumerate(self.layers):
                c, h = state[k]
                if k == 0:
                    gates = fixed + prev @ self.w_prev + h @ layer.w_h
                    if self.control_depth:
                        gates += controls[:, t] @ self.w_c
                else:
                    gates = x @ layer.w_in + h @ layer.w_h + layer.bias
                state[k] = list(lstm_step(gates, c))
                x = state[k][1]
            prev = out[:, t] = self.sampler(x @ self.out_w + self.out_b, temperature, noise[:, t])
        return out, np.concatenate([part for layer in state for part in layer], axis=1)


class SequenceEngine(Engine):
    """A one-level MusicVAE (encoder + :class:`CoreDecoder`) for the tensor-level API, run by NumPy."""

    kind = "numpy"
    chunk = 256

    def __init__(self, weights: dict, spec: Spec, checkpoint: Path, name: str, sha256: str = "", batch_size: int = 256):
        try:
            self.encoder = Encoder(weights)
            sampler = sampler_for(spec.sampler, weights, "decoder/", spec.output_depth)
            self.decoder = CoreDecoder(weights, "decoder/", sampler)
        except KeyError as exc:
            raise CheckpointError(
                f"checkpoint {checkpoint} lacks variable {exc.args[0]}: not a {spec.config} model"
            ) from None
        self.spec = spec
        inputs = self.encoder.input_depth
        if inputs != spec.input_depth + spec.control_depth or self.decoder.control_depth != spec.control_depth:
            raise CheckpointError(
                f"checkpoint {checkpoint}: its encoder takes {inputs} inputs and its decoder "
                f"{self.decoder.control_depth} controls, not {spec.config}'s {spec.input_depth} + {spec.control_depth}"
            )
        super().__init__(checkpoint, name, sha256, self.decoder.z_size, batch_size)

    def _encode_tensors(self, inputs: np.ndarray, controls: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if controls is not None:  # magenta's MusicVAE.encode appends the controls to the sequence
            inputs = np.concatenate([inputs, controls], axis=-1)
        return self.encoder.encode(inputs)

    def _decode_tensors(self, z, temperature, noise, controls):
        return self.decoder.decode(z, temperature, noise, controls)[0]

    def encode_events(self, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.require_melody()  # a melody model's engine is NumpyEngine: this raises
        raise NotImplementedError

    def reconstruction_loss_grad(self, z: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.require_melody()
        raise NotImplementedError
