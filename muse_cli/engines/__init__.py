"""The model's maths behind one interface, in two engines that give the same melodies.

- ``numpy`` (default): :class:`~muse_cli.engines.numpy.NumpyEngine`, no TensorFlow; a command
  answers in a fraction of a second.
- ``magenta``: :class:`~muse_cli.engines.magenta.MagentaEngine`, magenta's TrainedModel: the
  reference, and the way to run a checkpoint the NumPy engine cannot.

Pick one with ``--engine`` or ``MUSE_ENGINE``.
"""

from __future__ import annotations

from muse_cli import settings
from muse_cli.engines.base import Engine, gumbel

__all__ = ["Engine", "gumbel", "load"]


def load(ckpt, engine: str | None = None, batch_size: int = 64) -> Engine:
    """A :class:`muse_cli.registry.Checkpoint` loaded into the named engine (default: settings.engine())."""
    engine = engine or settings.engine()
    if engine == "magenta":
        from muse_cli.engines.magenta import MagentaEngine

        return MagentaEngine.from_config(
            ckpt.config, ckpt.hparams, ckpt.path, batch_size=batch_size, name=ckpt.name, sha256=ckpt.sha256
        )
    from muse_cli.engines import weights
    from muse_cli.engines.numpy import NumpyEngine

    model = NumpyEngine(weights.load(ckpt.path), ckpt.path, ckpt.name, ckpt.sha256, batch_size=batch_size)
    z_size = ckpt.hparams.get("z_size")
    if z_size is not None and int(z_size) != model.z_size:
        from muse_cli.errors import CheckpointError

        raise CheckpointError(
            f"checkpoint {ckpt.path} does not fit config (z_size {z_size}): its weights have z size {model.z_size}"
        )
    return model
