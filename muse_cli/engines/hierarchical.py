"""The hierarchical 16-bar models in NumPy: magenta's ``HierarchicalLstmDecoder`` (hierdec-mel_16bar,
hierdec-trio_16bar), the same maths as its graph, from the same weights.

- The conductor (``decoder/hierarchical_level_0``): its initial state is tanh(z W + b) (``initial_state``)
  split into each layer's (c, h); it runs 16 steps on zero inputs [n, 1] (the configs disable
  autoregression), and its top layer's h at step s is bar s's embedding.
- The segment loop: bar s is decoded by the core decoder(s) (:class:`muse_cli.engines.sequence.CoreDecoder`)
  with z = embedding s, the start input the last sample of bar s - 1 (zeros for bar 0), and the noise of
  time steps [16 s, 16 (s + 1)).
- The trio splits its output among three core decoders (``core_decoder/core_decoder_{0,1,2}/decoder``:
  melody 90, bass 90, drums 512), each reading its own depth columns of the noise and of the start input;
  their samples are concatenated. The melody model has one core (``core_decoder/decoder``).

The noise is what :func:`muse_cli.engines.base.sampling_noise` makes of the uniforms u, exactly what the
magenta engine feeds the seeded graph (:mod:`muse_cli.hierdec`). No TensorFlow here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from muse_cli.engines.base import Engine
from muse_cli.engines.lstm import Encoder, Layer, layers, lstm_step
from muse_cli.engines.sequence import Categorical, CoreDecoder
from muse_cli.engines.spec import Spec
from muse_cli.errors import CheckpointError

# config: (level lengths (bars, steps per bar), the core decoders' output depths)
LEVELS = {
    "hierdec-mel_16bar": ((16, 16), (90,)),
    "hierdec-trio_16bar": ((16, 16), (90, 90, 512)),
}
CONDUCTOR = "decoder/hierarchical_level_0/"


class Conductor:
    """The conductor LSTM (``decoder/hierarchical_level_0``): z -> one embedding per bar."""

    def __init__(self, weights: dict, prefix: str = CONDUCTOR):
        self.layers: list[Layer] = layers(weights, lambda i: f"{prefix}cell_{i}/lstm_cell/kernel")
        self.init_w, self.init_b = (weights[prefix + f"initial_state/{v}"] for v in ("kernel", "bias"))
        if not self.layers:
            raise KeyError(prefix + "cell_0/lstm_cell/kernel")
        self.z_size = self.init_w.shape[0]
        self.units = self.layers[-1].units

    def embeddings(self, z: np.ndarray, bars: int) -> np.ndarray:
        """[n, bars, units]: the top layer's h after each of ``bars`` steps on zero inputs."""
        flat = np.tanh(z @ self.init_w + self.init_b)  # MultiRNNCell order: (c0, h0), (c1, h1), ...
        state, pos = [], 0
        for layer in self.layers:
            state.append([flat[:, pos : pos + layer.units], flat[:, pos + layer.units : pos + 2 * layer.units]])
            pos += 2 * layer.units
        out = np.zeros((len(z), bars, self.units), np.float32)
        for s in range(bars):
            x = None
            for k, layer in enumerate(self.layers):
                c, h = state[k]
                # layer 0's input is zeros [n, 1]: its input rows add nothing
                gates = h @ layer.w_h + layer.bias if k == 0 else x @ layer.w_in + h @ layer.w_h + layer.bias
                state[k] = list(lstm_step(gates, c))
                x = state[k][1]
            out[:, s] = x
        return out


def core_prefixes(cores: int) -> list[str]:
    """Where each core decoder's variables are: one core, or a SplitMultiOutLstmDecoder's cores."""
    if cores == 1:
        return ["core_decoder/decoder/"]
    return [f"core_decoder/core_decoder_{i}/decoder/" for i in range(cores)]


class HierarchicalDecoder:
    """The conductor and the core decoder(s) of a hierdec model, from its weights."""

    def __init__(self, weights: dict, levels: tuple[int, int], depths: tuple[int, ...]):
        self.bars, self.steps_per_bar = levels
        self.conductor = Conductor(weights)
        self.cores = [CoreDecoder(weights, p, Categorical(d)) for p, d in zip(core_prefixes(len(depths)), depths)]
        self.offsets = list(np.cumsum((0,) + tuple(depths))[:-1])
        self.depth = int(sum(depths))
        for core in self.cores:
            if core.z_size != self.conductor.units or core.control_depth:
                raise CheckpointError(
                    f"core decoder {core.prefix} takes a z of {core.z_size} and {core.control_depth} controls, "
                    f"not the conductor's {self.conductor.units} units and none"
                )

    @property
    def z_size(self) -> int:
        return self.conductor.z_size

    def decode(self, z: np.ndarray, temperature: float, noise: np.ndarray) -> np.ndarray:
        """Samples [n, bars * steps_per_bar, depth] from latents [n, z] and the sampler noise of the same shape."""
        n, length = len(z), self.steps_per_bar
        embeddings = self.conductor.embeddings(z, self.bars)
        out = np.zeros((n, self.bars * length, self.depth), np.float32)
        for s in range(self.bars):
            steps = slice(s * length, (s + 1) * length)
            for core, first in zip(self.cores, self.offsets):
                cols = slice(first, first + core.depth)
                start = out[:, s * length - 1, cols] if s else None  # the last sample of the bar before
                out[:, steps, cols] = core.decode(embeddings[:, s], temperature, noise[:, steps, cols], start=start)[0]
        return out


class HierarchicalEngine(Engine):
    """A hierdec MusicVAE (bidirectional encoder + :class:`HierarchicalDecoder`) for the tensor-level API."""

    kind = "numpy"
    chunk = 256

    def __init__(self, weights: dict, spec: Spec, checkpoint: Path, name: str, sha256: str = "", batch_size: int = 256):
        levels, depths = LEVELS[spec.config]
        try:
            self.encoder = Encoder(weights)
            self.decoder = HierarchicalDecoder(weights, levels, depths)
        except KeyError as exc:
            raise CheckpointError(
                f"checkpoint {checkpoint} lacks variable {exc.args[0]}: not a {spec.config} model"
            ) from None
        if self.encoder.input_depth != spec.input_depth or levels[0] * levels[1] != spec.steps:
            raise CheckpointError(
                f"checkpoint {checkpoint}: its encoder takes {self.encoder.input_depth} inputs, "
                f"not {spec.config}'s {spec.input_depth} (or max_seq_len is not {levels[0] * levels[1]})"
            )
        self.spec = spec
        super().__init__(checkpoint, name, sha256, self.decoder.z_size, batch_size)

    def _encode_tensors(self, inputs: np.ndarray, controls: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        return self.encoder.encode(inputs)

    def _decode_tensors(self, z, temperature, noise, controls):
        return self.decoder.decode(z, temperature, noise)

    def encode_events(self, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.require_melody()  # 256 steps, not a 2-bar window: this raises
        raise NotImplementedError

    def reconstruction_loss_grad(self, z: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.require_melody()
        raise NotImplementedError
