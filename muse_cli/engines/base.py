"""What every engine shares: latent checks, seeded noise, batching, reconstruction metrics.

An engine turns latents into melody events and melody events into posteriors; and, for every config
with a spec (:mod:`muse_cli.engines.spec`), tensors into posteriors and latents into tensors
(``encode_tensors``, ``decode_tensors``). Randomness is the caller's: row ``i`` of a decode draws
its sampling uniforms from its own seed (:func:`uniforms`), so a sample depends on its seed only,
never on the engine, the batch or the process that decoded it. A decoder reads them as
:func:`sampling_noise` makes them: Gumbel noise for categorical decoders, the uniforms themselves
for NADE and groove ones (:mod:`muse_cli.decoders` says how each decoder uses them).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from muse_cli.encoding import HOLD, NUM_CLASSES, WINDOW_STEPS
from muse_cli.engines.spec import Spec
from muse_cli.errors import CheckpointError, LatentError


def uniforms(seed: Sequence[int], steps: int = WINDOW_STEPS, depth: int = NUM_CLASSES) -> np.ndarray:
    """One decoded window's sampling uniforms u [steps, depth] (float64), from its own seed."""
    return np.random.default_rng(list(seed)).random((steps, depth))


def gumbel_of(u: np.ndarray) -> np.ndarray:
    """Gumbel noise -log(-log(u)) (float32) from uniforms, computed in float64: what categorical decoders add."""
    u = np.asarray(u, np.float64)
    return (-np.log(-np.log(np.clip(u, 1e-20, 1.0 - 1e-12)))).astype(np.float32)


def gumbel(seed: Sequence[int], steps: int = WINDOW_STEPS, depth: int = NUM_CLASSES) -> np.ndarray:
    """Gumbel noise for one decoded window, from its own seed."""
    return gumbel_of(uniforms(seed, steps, depth))


def sampling_noise(sampler: str, u: np.ndarray) -> np.ndarray:
    """What a decoder with ``sampler`` (:data:`muse_cli.engines.spec.SAMPLERS`) reads: Gumbel noise for
    categorical decoders, the uniforms themselves (float32) for NADE and groove ones. Both engines feed it."""
    return gumbel_of(u) if sampler == "categorical" else np.asarray(u, np.float32)


MASKED = -1e9  # added to a disallowed class's noise: argmax(logits / T + noise) never picks it


def noise_for(seeds: Sequence[Sequence[int]] | None, rows: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """[rows, 32, 90] sampling noise, one seed per row; zeros (argmax decoding) when ``seeds`` is None.

    ``allowed`` (bool [90] for every row and step, [rows, 90] per row, or [rows, 32, 90] per row and step)
    masks the classes it leaves out: their noise is MASKED, so both engines sample only allowed classes (a
    piece's scale, a cadence's last notes) with no change of their own."""
    noise = np.zeros((rows, WINDOW_STEPS, NUM_CLASSES), np.float32)
    if seeds is not None:
        for j, seed in enumerate(seeds):
            noise[j] = gumbel(seed)
    if allowed is not None:
        noise += np.where(_per_step(allowed, rows), 0.0, MASKED).astype(np.float32)
    return noise


def _per_step(allowed: np.ndarray, rows: int) -> np.ndarray:
    """A class mask as bool [rows, 32, 90]."""
    allowed = np.asarray(allowed, bool)
    if allowed.ndim == 2:
        allowed = allowed[:, None, :]
    return np.broadcast_to(allowed, (rows, WINDOW_STEPS, NUM_CLASSES))


def _checked(name: str, x: np.ndarray, steps: int, depth: int, rows: int | None = None, dtype=np.float32):
    """``x`` as a [rows, steps, depth] array of ``dtype``, or ValueError naming what is wrong."""
    x = np.asarray(x, dtype)
    want = (rows if rows is not None else (x.shape[0] if x.ndim else 0), steps, depth)
    if x.shape != want:
        raise ValueError(f"{name} has shape {x.shape}, expected {want}")
    return x


def reconstruction_scores(windows: np.ndarray, rec: np.ndarray) -> dict:
    """How well ``rec`` gives back ``windows`` (event arrays [n, 32]): step, exact-window, note-on accuracy."""
    onsets = windows >= 2
    return {
        "windows": int(len(windows)),
        "step_accuracy": float(np.mean(rec == windows)) if len(windows) else 0.0,
        "exact_windows": float(np.mean(np.all(rec == windows, axis=1))) if len(windows) else 0.0,
        "note_on_accuracy": float(np.mean(rec[onsets] == windows[onsets])) if onsets.any() else 0.0,
        "hold_baseline": float(np.mean(windows == HOLD)) if len(windows) else 0.0,
    }


class Engine:
    """A loaded MusicVAE checkpoint. Subclasses implement :meth:`_decode_batch` and :meth:`encode_events`."""

    kind = ""  # "numpy" or "magenta"
    chunk = 64  # rows decoded at once
    spec: Spec  # the config's tensors (:mod:`muse_cli.engines.spec`)

    def __init__(self, checkpoint: Path, name: str, sha256: str, z_size: int, batch_size: int):
        self.checkpoint = Path(checkpoint)
        self.name = name
        self.sha256 = sha256
        self.z_size = int(z_size)
        self.batch_size = int(batch_size)

    def close(self) -> None:
        """Free what the engine holds (a TensorFlow session); a no-op for NumPy."""

    # -- the tensor-level API (every config with a spec) --------------------------------
    def _encode_tensors(self, inputs: np.ndarray, controls: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _decode_tensors(
        self, z: np.ndarray, temperature: float, noise: np.ndarray, controls: np.ndarray | None
    ) -> np.ndarray:
        raise NotImplementedError

    def encode_tensors(self, inputs: np.ndarray, controls: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Posterior (mu, sigma) [n, z_size] of encoder inputs [n, steps, input_depth] (float32), with controls
        [n, steps, control_depth] for configs that have them (``self.spec``)."""
        spec = self.spec
        inputs = _checked("inputs", inputs, spec.steps, spec.input_depth)
        controls = self._controls(controls, len(inputs))
        mu, sigma = np.zeros((2, len(inputs), self.z_size), np.float32)
        for b in range(0, len(inputs), self.chunk):
            rows = slice(b, b + self.chunk)
            mu[rows], sigma[rows] = self._encode_tensors(inputs[rows], None if controls is None else controls[rows])
        return mu, sigma

    def decode_tensors(
        self, z: np.ndarray, temperature: float, u: np.ndarray, controls: np.ndarray | None = None
    ) -> np.ndarray:
        """Samples [n, steps, output_depth] (float32, as magenta's ``decode_to_tensors``) from latents [n, z_size]
        with the sampling uniforms ``u`` [n, steps, output_depth] (row i's from :func:`uniforms`; 0.5
        everywhere decodes deterministically) and, for configs that have them, controls [n, steps, c]."""
        spec = self.spec
        z = self.check_latents(z)
        u = _checked("u", u, spec.steps, spec.output_depth, rows=len(z), dtype=np.float64)
        controls = self._controls(controls, len(z))
        noise = sampling_noise(spec.sampler, u)
        out = np.zeros((len(z), spec.steps, spec.output_depth), np.float32)
        for b in range(0, len(z), self.chunk):
            rows = slice(b, b + self.chunk)
            c = None if controls is None else controls[rows]
            out[rows] = self._decode_tensors(z[rows], float(temperature), noise[rows], c)
        return out

    def _controls(self, controls: np.ndarray | None, rows: int) -> np.ndarray | None:
        depth = self.spec.control_depth
        if not depth:
            if controls is not None:
                raise ValueError(f"config {self.spec.config} takes no controls")
            return None
        if controls is None:
            raise ValueError(f"config {self.spec.config} needs controls [n, {self.spec.steps}, {depth}]")
        return _checked("controls", controls, self.spec.steps, depth, rows=rows)

    def _decode_batch(self, z: np.ndarray, temperature: float, noise: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def encode_events(self, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior (mu, sigma) for event arrays [n, 32]."""
        raise NotImplementedError

    def reconstruction_loss_grad(self, z: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The decoder's teacher-forced reconstruction loss of each window of ``events`` [n, 32] from
        latents ``z`` [n, z_size], and its gradient with respect to ``z``: (loss [n], dloss/dz [n, z_size]).

        The loss is magenta's training loss (``reconstruction_loss``): z gives the initial LSTM state
        through tanh(z W + b), the input at step t is [one-hot of the true event t - 1 (zeros at t = 0), z],
        and the loss sums the cross-entropy of the true event t under softmax(logits) over the 32 steps.
        Windows are independent: row i's gradient is that of row i's loss."""
        raise NotImplementedError

    def decode_events(
        self,
        z: np.ndarray,
        temperature: float = 1.0,
        noise_seeds: Sequence[Sequence[int]] | None = None,
        allowed: np.ndarray | None = None,
    ) -> np.ndarray:
        """Decode latents [n, z_size] to event arrays [n, 32].

        ``noise_seeds`` gives each row its own sampling noise; ``None`` decodes by argmax. ``allowed``
        (bool [90], [n, 90] or [n, 32, 90]) limits the classes sampled (:func:`noise_for`); None allows all.
        """
        self.require_melody()
        z = self.check_latents(z)
        if allowed is not None:
            allowed = _per_step(allowed, len(z))
        out = np.zeros((len(z), WINDOW_STEPS), np.int64)
        for b in range(0, len(z), self.chunk):
            rows = z[b : b + self.chunk]
            seeds = None if noise_seeds is None else noise_seeds[b : b + self.chunk]
            mask = None if allowed is None else allowed[b : b + self.chunk]
            out[b : b + len(rows)] = self._decode_batch(rows, float(temperature), noise_for(seeds, len(rows), mask))
        return out

    def require_melody(self) -> None:
        """CheckpointError unless this is a 2-bar melody model, the only kind the melody events API drives."""
        spec = self.spec
        if not spec.melody_events:
            raise CheckpointError(
                f"checkpoint {self.name} is a {spec.config} model, not a 2-bar melody one; "
                "its tensors go through encode_tensors and decode_tensors"
            )

    def check_latents(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z)
        if np.iscomplexobj(z):
            raise LatentError("latents are complex numbers; latent vectors must be real")
        z = z.astype(np.float32)
        if z.ndim == 1:
            z = z[None, :]
        if z.ndim != 2 or z.shape[1] != self.z_size:
            got = z.shape[-1] if z.ndim >= 1 else 0
            raise LatentError(
                f"latent vectors have size {got} but checkpoint {self.name} expects "
                f"{self.z_size}; encode with the same checkpoint you decode with"
            )
        if not np.all(np.isfinite(z)):
            raise LatentError("latents contain NaN or inf values; re-run muse encode to make new ones")
        return z

    def reconstruction_metrics(self, windows: np.ndarray) -> dict:
        """decode(encode_mu(x)) by argmax: step accuracy, exact windows, note-on accuracy."""
        windows = np.asarray(windows, dtype=np.int64)
        mu, _ = self.encode_events(windows)
        return reconstruction_scores(windows, self.decode_events(mu, noise_seeds=None))
