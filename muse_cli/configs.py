"""MusicVAE configurations that muse can load, built from magenta's own CONFIG_MAP.

Every config muse builds swaps magenta's decoder for its seeded version
(:mod:`muse_cli.decoders`), which has the same variables (so every Magenta checkpoint
loads unchanged) but samples with noise that the caller may feed. Feeding per-row
noise from a seeded NumPy generator makes a sample depend on its own seed only, not
on which batch it was decoded in; constant noise (u = 0.5
everywhere, or zero Gumbel noise) decodes by argmax.

Imports TensorFlow and magenta: only call from code that needs a model.
"""

from __future__ import annotations

import copy
from typing import Any

# magenta's config names that muse samples melodies from (the melody recipes and the CLI).
MELODY_CONFIGS = ("cat-mel_2bar_small", "cat-mel_2bar_big")
# the other one-level configs whose decoders muse seeds (the tensor-level engine API, issue 21)
FAMILY_CONFIGS = (
    "cat-drums_2bar_small",
    "nade-drums_2bar_full",
    "groovae_2bar_humanize",
    "groovae_4bar",
    "groovae_2bar_tap_fixed_velocity",
    "cat-mel_2bar_med_chords",
)
HIERARCHICAL_CONFIGS = ("hierdec-mel_16bar", "hierdec-trio_16bar")  # built by the hierarchical decoders
SEEDED_CONFIGS = MELODY_CONFIGS + FAMILY_CONFIGS + HIERARCHICAL_CONFIGS


def _seeded_model(base: str, model):
    """magenta's model for ``base`` with its decoder swapped for the seeded one (same variables)."""
    from magenta.models.music_vae import lstm_models
    from magenta.models.music_vae.base_model import MusicVAE

    from muse_cli import decoders

    if base in HIERARCHICAL_CONFIGS:
        from muse_cli.hierdec import seeded_hierarchical

        return MusicVAE(lstm_models.BidirectionalLstmEncoder(), seeded_hierarchical(model.decoder))
    return MusicVAE(lstm_models.BidirectionalLstmEncoder(), decoders.seeded(model.decoder))


def build_config(base: str, hparams: dict[str, Any] | None = None):
    """A magenta Config for ``base`` (one of :data:`SEEDED_CONFIGS`) with hparam overrides, its decoder
    seeded (:mod:`muse_cli.decoders`)."""
    from magenta.models.music_vae import configs

    if base not in configs.CONFIG_MAP:
        raise KeyError(base)
    if base not in SEEDED_CONFIGS:
        raise KeyError(f"{base} is not a config muse can decode ({', '.join(SEEDED_CONFIGS)})")
    config = copy.deepcopy(configs.CONFIG_MAP[base])
    config = configs.update_config(config, {"model": _seeded_model(base, config.model)})
    for key, value in (hparams or {}).items():
        if not hasattr(config.hparams, key):
            raise KeyError(f"unknown hparam {key!r} for {base}")
        current = getattr(config.hparams, key)
        if type(current) is int and isinstance(value, float) and value.is_integer():
            value = int(value)  # TOML and JSON may write 1000 as 1000.0
        config.hparams.set_hparam(key, value)
    return config


def any_config(base: str, hparams: dict[str, Any] | None = None):
    """A magenta Config for any MusicVAE config key: muse's seeded configs, magenta's own otherwise."""
    from magenta.models.music_vae import configs

    if base in SEEDED_CONFIGS:
        return build_config(base, hparams)
    if base not in configs.CONFIG_MAP:
        raise KeyError(base)
    config = copy.deepcopy(configs.CONFIG_MAP[base])
    for key, value in (hparams or {}).items():
        config.hparams.set_hparam(key, value)
    return config


def create_variables(config) -> None:
    """Build ``config``'s inference model in the current graph and create all its variables.

    magenta creates variables on first use, so this encodes and samples once at batch size 1.
    """
    import tensorflow.compat.v1 as tf

    hp = config.hparams
    hp.batch_size = 1
    config.model.build(hp, config.data_converter.output_depth, is_training=False)
    steps, control = hp.max_seq_len, config.data_converter.control_depth
    z = None
    if hp.z_size:
        config.model.encode(
            tf.zeros([1, steps, config.data_converter.input_depth]),
            tf.constant([steps]),
            tf.zeros([1, steps, control]) if control else None,
        )
        z = tf.zeros([1, hp.z_size])
    config.model.sample(
        1, max_length=steps, z=z, temperature=1.0, c_input=tf.zeros([steps, control]) if control else None
    )
