"""magenta's hierarchical decoder with its sampling noise fed from outside (hierdec-mel_16bar, hierdec-trio_16bar).

:class:`SeededHierarchicalLstmDecoder` is magenta's ``HierarchicalLstmDecoder`` unchanged (the conductor,
``decoder/hierarchical_level_0``, the segment loop, the start inputs) around seeded core decoders
(:mod:`muse_cli.decoders`); only ``sample`` differs: it first makes one noise tensor, a
``placeholder_with_default`` [n, T, D] (T = ``max_seq_len``, D = the output depth: 90, or 90 + 90 + 512
for the trio), and hands it to every core. The noise convention of the whole family then holds by the
seeded cores' own hook: core decode of bar segment s is that core's call s, so it reads time steps
[s * L, (s + 1) * L) (L = 16); a split decoder's core i reads the depth columns after the cores before it
(``depth_offset`` 0, 90, 180 for the trio). All cores here are categorical: the tensor holds Gumbel noise
(the engines feed ``gumbel_of(u)``), its default fresh noise.

Imports TensorFlow and magenta at import time: import it only inside functions that build a model
(:func:`muse_cli.configs.build_config` does).
"""

from __future__ import annotations

import tensorflow.compat.v1 as tf
from magenta.models.music_vae import lstm_models

from muse_cli import decoders


def _cores(core) -> list:
    """The leaf decoders of a hierarchical decoder's core, in output-depth order."""
    if isinstance(core, lstm_models.SplitMultiOutLstmDecoder):
        return list(core._core_decoders)
    return [core]


class SeededHierarchicalLstmDecoder(lstm_models.HierarchicalLstmDecoder):
    """HierarchicalLstmDecoder whose seeded cores all read one fed noise tensor, ``noise`` [n, T, D]."""

    noise = None
    controls = None  # the hierarchical configs muse runs take no controls (the engines look for this hook)

    def build(self, hparams, output_depth, is_training=True):
        super().build(hparams, output_depth, is_training)
        self.noise = None

    def sample(self, n, max_length=None, z=None, c_input=None, **core_sampler_kwargs):
        if c_input is not None:
            raise ValueError("muse's hierarchical decoders take no control inputs")
        cores = _cores(self._core_decoder)
        shape = [n, self._total_length, self._output_depth]
        self.noise = tf.placeholder_with_default(
            cores[0]._default_noise(shape), shape=[n, None, self._output_depth], name=cores[0].noise_name
        )
        offset = 0
        for core in cores:  # every core reads its own columns of the one tensor, call s reading segment s
            core.noise, core.depth_offset, core.calls = self.noise, offset, 0
            offset += core._output_depth
        return super().sample(n, max_length, z, c_input, **core_sampler_kwargs)


def seeded_hierarchical(decoder: lstm_models.HierarchicalLstmDecoder) -> SeededHierarchicalLstmDecoder:
    """The seeded version of one of magenta's HierarchicalLstmDecoder objects (same variables): its core
    decoder (or a SplitMultiOutLstmDecoder's cores) seeded, the same level lengths and autoregression."""
    if decoder._hierarchical_encoder is not None:
        raise KeyError("a hierarchical decoder with a re-encoder (hier-* configs) is not seeded by muse")
    core = decoder._core_decoder
    if isinstance(core, lstm_models.SplitMultiOutLstmDecoder):
        seeded_core = lstm_models.SplitMultiOutLstmDecoder(
            [decoders.seeded(c) for c in core._core_decoders], list(core._output_depths)
        )
    else:
        seeded_core = decoders.seeded(core)
    kinds = {type(c) for c in _cores(seeded_core)}
    if len(kinds) != 1:
        raise KeyError(f"a hierarchical decoder with mixed core decoders {sorted(k.__name__ for k in kinds)}")
    return SeededHierarchicalLstmDecoder(
        seeded_core, list(decoder._level_lengths), disable_autoregression=list(decoder._disable_autoregression)
    )
