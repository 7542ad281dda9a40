"""The model's maths behind one interface, in two engines that give the same melodies.

- ``numpy`` (default): :class:`~muse_cli.engines.numpy.NumpyEngine` (2-bar melody models) or
  :class:`~muse_cli.engines.sequence.SequenceEngine` (the other one-level configs of
  :mod:`muse_cli.engines.spec`) or :class:`~muse_cli.engines.hierarchical.HierarchicalEngine` (the
  hierdec 16-bar models), no TensorFlow; a command answers in a fraction of a second.
- ``magenta``: :class:`~muse_cli.engines.magenta.MagentaEngine`, magenta's TrainedModel: the
  reference, and the way to run a checkpoint the NumPy engine cannot.

Pick one with ``--engine`` or ``MUSE_ENGINE``. Every engine has ``spec`` (the config's tensors) and the
tensor-level API ``encode_tensors`` / ``decode_tensors`` (:class:`~muse_cli.engines.base.Engine`).
"""

from __future__ import annotations

from muse_cli import settings
from muse_cli.engines.base import Engine, gumbel, uniforms

__all__ = ["Engine", "gumbel", "uniforms", "load", "for_batch"]

# From this size of checkpoint data on, `muse batch` runs TrainedModel unless told otherwise: on warm workers
# TensorFlow's matrix products (oneDNN) beat NumPy's OpenBLAS 0.3.20 on cat-mel_2bar_big's 2048-unit layers,
# 18.2 vs 14.6 samples/s end to end for 2,000 samples (bench/bench_batch.py); below it, NumPy starts
# workers faster and decodes about as fast. Both give the same bytes.
BATCH_TF_BYTES = 100_000_000


def for_batch(checkpoint: str | None) -> str:
    """The engine `muse batch` workers use for ``checkpoint``: MUSE_ENGINE if set, else by checkpoint size."""
    from muse_cli import registry
    from muse_cli.cache import data_files

    size = sum(f.stat().st_size for f in data_files(registry.resolve(checkpoint).path))
    return settings.engine(default="magenta" if size >= BATCH_TF_BYTES else "numpy")


def load(ckpt, engine: str | None = None, batch_size: int = 64) -> Engine:
    """A :class:`muse_cli.registry.Checkpoint` loaded into the named engine (default: settings.engine())."""
    engine = engine or settings.engine()
    if engine == "magenta":
        from muse_cli.engines.magenta import MagentaEngine

        return MagentaEngine.from_config(
            ckpt.config, ckpt.hparams, ckpt.path, batch_size=batch_size, name=ckpt.name, sha256=ckpt.sha256
        )
    from muse_cli.engines import weights
    from muse_cli.engines.hierarchical import LEVELS, HierarchicalEngine
    from muse_cli.engines.numpy import NumpyEngine
    from muse_cli.engines.sequence import SequenceEngine
    from muse_cli.engines.spec import spec_for

    arrays = weights.load(ckpt.path, ckpt.config, ckpt.hparams)  # checked against the config at export
    spec = spec_for(ckpt.config, ckpt.hparams)
    if ckpt.config in LEVELS:  # the hierarchical 16-bar models
        model = HierarchicalEngine(arrays, spec, ckpt.path, ckpt.name, ckpt.sha256, batch_size=batch_size)
    elif spec is not None and not spec.melody_events:
        model = SequenceEngine(arrays, spec, ckpt.path, ckpt.name, ckpt.sha256, batch_size=batch_size)
    else:  # a 2-bar melody model (or one the NumPy engine will refuse with a clear error)
        model = NumpyEngine(arrays, ckpt.path, ckpt.name, ckpt.sha256, batch_size=batch_size, config=ckpt.config)
    z_size = ckpt.hparams.get("z_size")
    if z_size is not None and int(z_size) != model.z_size:
        from muse_cli.errors import CheckpointError

        raise CheckpointError(
            f"checkpoint {ckpt.path} does not fit config (z_size {z_size}): its weights have z size {model.z_size}"
        )
    return model
