"""The reference engine: magenta's own TrainedModel in a TensorFlow session.

It loads and checks any Magenta checkpoint, serves ``--engine magenta`` / ``MUSE_ENGINE=magenta``,
and is what the NumPy engine is tested against. Its decoder is magenta's, with the sampling
noise fed from outside (:mod:`muse_cli.configs`), so both engines draw the same melody.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from muse_cli.cache import checkpoint_prefix
from muse_cli.encoding import NUM_CLASSES, WINDOW_STEPS
from muse_cli.engines.base import Engine
from muse_cli.engines.spec import Spec, spec_for
from muse_cli.errors import CheckpointError
from muse_cli.quiet import quiet_tensorflow


def tf_error_detail(exc: BaseException) -> str:
    """The line of a TensorFlow error that says what is wrong (not 'Graph execution error', not a stack)."""
    text = str(exc)
    skip = ("Graph execution error", "Detected at node", "Node:", "Original stack trace", "File ", "[[")
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(skip):
            return line[:300]
    return type(exc).__name__


def checkpoint_failure(checkpoint, exc: BaseException, otherwise: str = "does not fit its config") -> CheckpointError:
    """A one-line CheckpointError for TensorFlow's failure to read or restore ``checkpoint``."""
    detail = tf_error_detail(exc)
    corrupt = type(exc).__name__ == "DataLossError" or "Checksum does not match" in detail or "corrupt" in detail
    return CheckpointError(
        f"checkpoint {checkpoint} {'is corrupt' if corrupt else otherwise}: {detail}; "
        f"{'download or copy it again' if corrupt else 'check its config in muse.json'}"
    )


class MagentaEngine(Engine):
    """A checkpoint loaded through TrainedModel; the graph runs ``batch_size`` rows at a time.

    Its decoder is seeded (:mod:`muse_cli.decoders`): every decode feeds the decoder's one noise tensor
    (:func:`muse_cli.engines.base.sampling_noise` of the caller's uniforms), and for configs with controls
    the decoder's per-row ``controls`` (TrainedModel itself takes one control sequence for the whole
    batch), so rows with different chords share one run."""

    kind = "magenta"

    def __init__(
        self, config, checkpoint: Path, batch_size: int, name: str, sha256: str = "", spec: Spec | None = None
    ):
        quiet_tensorflow()
        from magenta.models.music_vae import TrainedModel

        super().__init__(checkpoint, name, sha256, int(config.hparams.z_size), batch_size)
        self.chunk = batch_size
        prefix = checkpoint_prefix(self.checkpoint)
        try:
            self._tm = TrainedModel(config, batch_size=batch_size, checkpoint_dir_or_path=prefix)
        except Exception as exc:  # TensorFlow's own errors are long: keep the line that says what is wrong
            raise checkpoint_failure(self.checkpoint, exc) from None
        self.spec = spec or Spec("cat-mel_2bar_small", "melody", "categorical", WINDOW_STEPS, NUM_CLASSES, NUM_CLASSES)
        self._decoder = self._tm._config.model.decoder
        self._noise = self._decoder.noise  # muse_cli.decoders: the one noise tensor the seeded decoder reads
        self._loss = None  # (z, targets, loss, gradient), built on first use

    @classmethod
    def from_config(
        cls, base: str, hparams: dict, checkpoint: Path, batch_size: int, name: str, sha256: str = ""
    ) -> MagentaEngine:
        quiet_tensorflow()
        from muse_cli.configs import build_config

        spec = spec_for(base, hparams)
        return cls(build_config(base, hparams), checkpoint, batch_size, name, sha256, spec)

    def close(self) -> None:
        self._tm._sess.close()

    def _decode_batch(self, z: np.ndarray, temperature: float, noise: np.ndarray) -> np.ndarray:
        samples = self._tm._sess.run(self._tm._outputs, self._feed(len(z), z, temperature, noise, None))
        return np.argmax(samples[: len(z)], axis=-1)

    def _feed(self, rows: int, z: np.ndarray, temperature: float, noise: np.ndarray, controls) -> dict:
        """TrainedModel's sampling feed for up to batch_size rows, padded with zero rows."""
        tm, pad = self._tm, self.batch_size - rows
        feed = {
            tm._z_input: np.pad(z, [(0, pad), (0, 0)]).astype(np.float32),
            tm._temperature: temperature,
            tm._max_length: self.spec.steps,
            self._noise: np.pad(noise, [(0, pad), (0, 0), (0, 0)]),
        }
        if controls is not None:  # per row: the seeded decoder's `controls` (TrainedModel's c_input is one for all)
            feed[self._decoder.controls] = np.pad(controls, [(0, pad), (0, 0), (0, 0)])
        return feed

    def _decode_tensors(self, z, temperature, noise, controls) -> np.ndarray:
        samples = self._tm._sess.run(self._tm._outputs, self._feed(len(z), z, temperature, noise, controls))
        return np.asarray(samples[: len(z)], np.float32)

    def _encode_tensors(self, inputs: np.ndarray, controls: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        steps = [self.spec.steps] * len(inputs)
        _, mu, sigma = self._tm.encode_tensors(list(inputs), steps, None if controls is None else list(controls))
        return mu, sigma

    def encode_events(self, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.require_melody()
        events = np.asarray(events, dtype=np.int64)
        onehot = np.eye(NUM_CLASSES, dtype=np.float32)[events]
        _, mu, sigma = self._tm.encode_tensors(list(onehot), [WINDOW_STEPS] * len(events))
        return mu, sigma

    def _loss_graph(self) -> tuple:
        """magenta's own teacher-forced ``reconstruction_loss`` and ``tf.gradients`` of it with respect
        to z, added to the TrainedModel's graph on the decoder's variables."""
        if self._loss is None:
            import tensorflow.compat.v1 as tf

            bs = self.batch_size
            with self._tm._sess.graph.as_default(), tf.variable_scope(tf.get_variable_scope(), reuse=True):
                z = tf.placeholder(tf.float32, [bs, self.z_size])
                targets = tf.placeholder(tf.float32, [bs, WINDOW_STEPS, NUM_CLASSES])
                inputs = tf.pad(targets[:, :-1], [(0, 0), (1, 0), (0, 0)])  # as magenta's _compute_model_loss
                lengths = tf.fill([bs], WINDOW_STEPS)
                decoder = self._tm._config.model.decoder
                kept = decoder._sampling_probability  # built for inference: 1.0, the model's own samples as input
                decoder._sampling_probability = tf.constant(0.0)  # teacher forcing
                try:
                    loss = decoder.reconstruction_loss(inputs, targets, lengths, z)[0]
                finally:
                    decoder._sampling_probability = kept
                self._loss = (z, targets, loss, tf.gradients(loss, z)[0])
        return self._loss

    def reconstruction_loss_grad(self, z: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.require_melody()
        z = self.check_latents(z)
        onehot = np.eye(NUM_CLASSES, dtype=np.float32)[np.asarray(events, dtype=np.int64)]
        z_in, targets, loss, grad = self._loss_graph()
        bs, n = self.batch_size, len(z)
        losses, grads = np.zeros(n, np.float32), np.zeros_like(z)
        for b in range(0, n, bs):
            rows = len(z[b : b + bs])
            feed = {
                z_in: np.pad(z[b : b + bs], [(0, bs - rows), (0, 0)]),
                targets: np.pad(onehot[b : b + bs], [(0, bs - rows), (0, 0), (0, 0)]),
            }
            got_loss, got_grad = self._tm._sess.run([loss, grad], feed)
            losses[b : b + rows], grads[b : b + rows] = got_loss[:rows], got_grad[:rows]
        return losses, grads
