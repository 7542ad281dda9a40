"""magenta's LSTM decoders with their sampling noise fed from outside: the TensorFlow side of the noise convention.

Each seeded decoder has exactly its magenta parent's variables (every Magenta checkpoint loads unchanged);
only ``sample`` differs: where magenta draws from ``tfp`` distributions, these read one noise tensor,
a ``placeholder_with_default`` the caller may feed (the default is fresh random noise):

- :class:`SeededCategoricalLstmDecoder` reads Gumbel noise g (``gumbel_noise``): the sample at step t is
  one_hot(argmax(logits / T + g[:, t])). Engines feed g = -log(-log(clip(u))) made from the uniforms u by
  :func:`muse_cli.engines.base.gumbel_of` in NumPy, so both engines see the very same g.
- :class:`SeededNadeDecoder` reads uniforms u: unit d is on when u[:, t, d] < sigmoid(l_d / T), l_d the
  NADE's conditional logit given the units sampled before it (magenta/common/nade.py, Bernoulli replaced).
- :class:`SeededGrooveDecoder` reads uniforms u: hit d is on when u[:, t, d] < sigmoid(hit logit / T);
  velocities (sigmoid) and offsets (tanh) as magenta's; u[:, t, 9:] is unused.

The hook for composite decoders (hierarchical, split), shared by every seeded decoder (:class:`SeededSampling`):

- ``noise``: the noise tensor the decoder reads, [n, T_total, D_total]. Left None, the first ``sample()``
  makes its own placeholder_with_default of [n, max_length, depth]. A composite decoder instead makes one
  tensor for all its cores and sets each core's ``noise`` (and ``depth_offset``) after ``build`` and before
  sampling; it then feeds that one tensor.
- ``depth_offset``: the first depth column this decoder reads (a split decoder's core i: the sum of the
  depths before it); the decoder reads columns [depth_offset, depth_offset + its output depth).
- ``calls``: how many times ``sample()`` has run since ``build()``; call k reads time steps
  [k * L, (k + 1) * L) of ``noise``, L that call's ``max_length`` (a hierarchical decoder samples bar
  segment s as its core's call s).
- ``controls``: a per-row control placeholder_with_default [n, T, c] made when ``sample`` gets ``c_input``
  (TrainedModel feeds one control sequence for the whole batch, [T, c], which is its default, tiled).
  Feeding ``controls`` decodes each row under its own controls in one run.

Imports TensorFlow and magenta at import time: import it only inside functions that build a model
(:func:`muse_cli.configs.build_config` does).
"""

from __future__ import annotations

import tensorflow.compat.v1 as tf
from magenta.contrib import seq2seq as contrib_seq2seq
from magenta.models.music_vae import lstm_models


def _to_float(x):
    return tf.cast(x, tf.float32)


class SeededSampling:
    """The noise hook (module docstring) and a ``sample`` that reads it: mix in before a BaseLstmDecoder.

    A subclass sets ``noise_name`` and implements ``_default_noise(shape)`` and ``_sample_step(outputs,
    temperature, noise_t)`` (noise_t: this step's [n, depth] slice of ``noise``)."""

    noise_name = "uniform_noise"
    noise = None
    depth_offset = 0
    calls = 0
    controls = None

    def build(self, hparams, output_depth, is_training=True):
        super().build(hparams, output_depth, is_training)
        self.noise, self.calls, self.controls = None, 0, None

    def _default_noise(self, shape):
        return tf.random.uniform(shape)

    def _sample_step(self, outputs, temperature, noise_t):
        raise NotImplementedError

    def _noise_reader(self, n, max_length):
        """A function of the step t (a tensor) giving this call's [n, depth] noise at t; counts the call."""
        depth = self._output_depth
        if self.noise is None:
            self.noise = tf.placeholder_with_default(
                self._default_noise([n, max_length, depth]), shape=[n, None, depth], name=self.noise_name
            )
        noise, first, start = self.noise, self.depth_offset, self.calls * max_length if self.calls else 0
        self.calls += 1

        def at(t):
            step = noise[:, start + t, first : first + depth]
            step.set_shape([n, depth])  # a tensor index hides the static depth from shape inference
            return step

        return at

    def _control_input(self, n, c_input):
        """Per-row controls [n, T, c] (fed, or TrainedModel's one sequence tiled), or None."""
        if c_input is None:
            return None
        tiled = tf.tile(tf.expand_dims(c_input, 0), [n, 1, 1])
        self.controls = tf.placeholder_with_default(tiled, shape=[n, None, c_input.shape[-1]], name="controls")
        return self.controls

    def sample(self, n, max_length=None, z=None, c_input=None, temperature=1.0, start_inputs=None, end_fn=None):
        # Adapted from magenta's BaseLstmDecoder.sample (Apache-2.0): the same inputs at every step,
        # [previous sample, z, c_t], with the sampling function reading the fed noise at step t.
        temperature = 1.0 if temperature is None else temperature
        noise_at = self._noise_reader(n, max_length)
        controls = self._control_input(n, c_input)
        z = tf.zeros((n, 0), tf.float32) if z is None else z
        if start_inputs is None:
            start_inputs = tf.zeros([n, self._output_depth], dtype=tf.float32)
        start_inputs = tf.concat([start_inputs, z], axis=-1)
        if controls is not None:
            start_inputs = tf.concat([start_inputs, controls[:, 0]], axis=-1)
        end_fn = self._end_fn(end_fn)

        def sample_fn(time, outputs, state):
            del state
            return self._sample_step(outputs, temperature, noise_at(time))

        def next_inputs_fn(time, outputs, state, sample_ids):
            del outputs
            finished = end_fn(sample_ids)
            next_inputs = tf.concat([sample_ids, z], axis=-1)
            if controls is not None:  # stop when the controls run out, as magenta does
                more = tf.less(time, tf.shape(controls)[1] - 1)
                finished = tf.cond(more, lambda: finished, lambda: True)
                c_next = tf.cond(more, lambda: controls[:, time + 1], lambda: tf.zeros_like(controls[:, 0]))
                next_inputs = tf.concat([next_inputs, c_next], axis=-1)
            return finished, next_inputs, state

        helper = contrib_seq2seq.CustomHelper(
            initialize_fn=lambda: (tf.zeros([n], tf.bool), start_inputs),
            sample_fn=sample_fn,
            next_inputs_fn=next_inputs_fn,
            sample_ids_shape=[self._output_depth],
            sample_ids_dtype=tf.float32,
        )
        results = self._decode(z, helper=helper, input_shape=start_inputs.shape[1:], max_length=max_length)
        return results.samples, results

    def _end_fn(self, end_fn):
        return end_fn or (lambda x: False)


class SeededCategoricalLstmDecoder(SeededSampling, lstm_models.CategoricalLstmDecoder):
    """CategoricalLstmDecoder reading Gumbel noise: sample t = one_hot(argmax(logits / T + g[:, t]))."""

    noise_name = "gumbel_noise"

    @property
    def gumbel_noise(self):
        """The Gumbel noise placeholder (the name muse's melody engine feeds)."""
        return self.noise

    def _default_noise(self, shape):
        return -tf.math.log(-tf.math.log(tf.random.uniform(shape, minval=1e-20, maxval=1.0)))

    def _sample_step(self, outputs, temperature, noise_t):
        logits = outputs / temperature + noise_t
        return tf.one_hot(tf.argmax(logits, axis=-1), self._output_depth, dtype=tf.float32)

    def _end_fn(self, end_fn):
        end_token = end_fn  # CategoricalLstmDecoder.sample takes an end token, not a function
        if end_token is None:
            return lambda x: False
        return lambda x: tf.equal(tf.argmax(x, axis=-1), end_token)


class SeededNadeDecoder(SeededSampling, lstm_models.MultiLabelRnnNadeDecoder):
    """MultiLabelRnnNadeDecoder reading uniforms: unit d on when u[:, t, d] < sigmoid(l_d / T)."""

    def _sample_step(self, outputs, temperature, noise_t):
        # magenta's Nade.sample (Apache-2.0) with its Bernoulli draw replaced by a comparison with u
        nade = self._nade
        b_enc, b_dec = tf.split(outputs, [nade.num_hidden, self._output_depth], axis=1)
        w_enc, w_dec = tf.unstack(nade.w_enc), tf.unstack(nade.w_dec_t)
        a, units = b_enc, []
        for d in range(nade.num_dims):
            logit = b_dec[:, d : d + 1] + tf.matmul(tf.sigmoid(a), w_dec[d])
            unit = _to_float(tf.less(noise_t[:, d : d + 1], tf.sigmoid(logit / temperature)))
            units.append(unit)
            a = a + tf.matmul(unit, w_enc[d])
        return tf.concat(units, axis=1)


class SeededGrooveDecoder(SeededSampling, lstm_models.GrooveLstmDecoder):
    """GrooveLstmDecoder reading uniforms: hit d on when u[:, t, d] < sigmoid(hit logit / T)."""

    def _sample_step(self, outputs, temperature, noise_t):
        hits, velocities, offsets = tf.split(outputs, 3, axis=1)
        count = hits.shape[-1]
        hits = _to_float(tf.less(noise_t[:, :count], tf.sigmoid(hits / temperature)))
        return tf.concat([hits, tf.sigmoid(velocities), tf.tanh(offsets)], axis=1)


SEEDED = {
    lstm_models.CategoricalLstmDecoder: SeededCategoricalLstmDecoder,
    lstm_models.MultiLabelRnnNadeDecoder: SeededNadeDecoder,
    lstm_models.GrooveLstmDecoder: SeededGrooveDecoder,
}


def seeded(decoder):
    """The seeded decoder for one of magenta's (non-hierarchical) LSTM decoders; KeyError for others."""
    return SEEDED[type(decoder)]()
