"""MusicVAE configurations that muse can load, built from magenta's own CONFIG_MAP.

Every config muse builds swaps magenta's ``CategoricalLstmDecoder`` for
:class:`SeededCategoricalLstmDecoder`, which has the same variables (so every
Magenta checkpoint loads unchanged) but draws its samples with Gumbel noise that
the caller may feed. Feeding per-row noise from a seeded NumPy generator makes a
melody depend on its own seed only, not on which batch it was decoded in; feeding
zeros gives argmax decoding.

Imports TensorFlow and magenta: only call from code that needs a model.
"""

from __future__ import annotations

import copy
from typing import Any

# magenta's config names that muse supports: 2-bar melody models, the decoder this module seeds.
MELODY_CONFIGS = ("cat-mel_2bar_small", "cat-mel_2bar_big")


def _decoder_class():
    import tensorflow.compat.v1 as tf
    from magenta.contrib import seq2seq as contrib_seq2seq
    from magenta.models.music_vae import lstm_models

    class SeededCategoricalLstmDecoder(lstm_models.CategoricalLstmDecoder):
        """CategoricalLstmDecoder whose sampling noise can be fed from outside.

        ``gumbel_noise`` is a ``[n, max_length, depth]`` tensor that defaults to
        fresh Gumbel noise; sample t of row i is argmax(logits / T + noise[i, t]),
        which is exactly a draw from softmax(logits / T).
        """

        gumbel_noise = None

        def sample(self, n, max_length=None, z=None, c_input=None, temperature=1.0, start_inputs=None, end_fn=None):
            # Adapted from magenta's BaseLstmDecoder.sample (Apache-2.0) so that the
            # sampling function sees the time step; melody models have no controls.
            if c_input is not None:
                raise ValueError("control inputs are not supported by muse's melody decoder")
            depth = self._output_depth
            uniform = tf.random.uniform([n, max_length, depth], minval=1e-20, maxval=1.0)
            self.gumbel_noise = tf.placeholder_with_default(
                -tf.math.log(-tf.math.log(uniform)), shape=[n, None, depth], name="gumbel_noise"
            )
            z = tf.zeros((n, 0), tf.float32) if z is None else z
            if start_inputs is None:
                start_inputs = tf.zeros([n, depth], dtype=tf.float32)
            start_inputs = tf.concat([start_inputs, z], axis=-1)
            end_token = end_fn
            end_fn = (
                (lambda x: tf.equal(tf.argmax(x, axis=-1), end_token)) if end_token is not None else (lambda x: False)
            )
            noise = self.gumbel_noise

            def sample_fn(time, outputs, state):
                del state
                logits = outputs / temperature + noise[:, time, :]
                return tf.one_hot(tf.argmax(logits, axis=-1), depth, dtype=tf.float32)

            def initialize_fn():
                return tf.zeros([n], tf.bool), start_inputs

            def next_inputs_fn(time, outputs, state, sample_ids):
                del time, outputs
                return end_fn(sample_ids), tf.concat([sample_ids, z], axis=-1), state

            helper = contrib_seq2seq.CustomHelper(
                initialize_fn=initialize_fn,
                sample_fn=sample_fn,
                next_inputs_fn=next_inputs_fn,
                sample_ids_shape=[depth],
                sample_ids_dtype=tf.float32,
            )
            results = self._decode(z, helper=helper, input_shape=start_inputs.shape[1:], max_length=max_length)
            return results.samples, results

    return SeededCategoricalLstmDecoder


def build_config(base: str, hparams: dict[str, Any] | None = None):
    """A magenta Config for ``base`` (a key of magenta's CONFIG_MAP) with hparam overrides."""
    from magenta.models.music_vae import configs, lstm_models
    from magenta.models.music_vae.base_model import MusicVAE

    if base not in configs.CONFIG_MAP:
        raise KeyError(base)
    if base not in MELODY_CONFIGS:
        raise KeyError(f"{base} is not a 2-bar melody config")
    config = copy.deepcopy(configs.CONFIG_MAP[base])
    model = MusicVAE(lstm_models.BidirectionalLstmEncoder(), _decoder_class()())
    config = configs.update_config(config, {"model": model})
    for key, value in (hparams or {}).items():
        if not hasattr(config.hparams, key):
            raise KeyError(f"unknown hparam {key!r} for {base}")
        current = getattr(config.hparams, key)
        if type(current) is int and isinstance(value, float) and value.is_integer():
            value = int(value)  # TOML and JSON may write 1000 as 1000.0
        config.hparams.set_hparam(key, value)
    return config


def any_config(base: str, hparams: dict[str, Any] | None = None):
    """A magenta Config for any MusicVAE config key: muse's seeded melody configs, magenta's own otherwise."""
    from magenta.models.music_vae import configs

    if base in MELODY_CONFIGS:
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
