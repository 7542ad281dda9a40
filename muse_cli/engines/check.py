"""A checkpoint's variables against its magenta config's: names, shapes and bytes. Imports TensorFlow."""

from __future__ import annotations

import json
from pathlib import Path

from muse_cli.errors import CheckpointError

_VARIABLES: dict[tuple[str, str], dict[str, list[int]]] = {}


def check_checkpoint(path: Path, config: str, hparams: dict | None = None, name: str | None = None) -> None:
    """Raise CheckpointError unless the checkpoint at ``path`` (a directory or prefix) holds
    exactly the variables, by name and shape, of magenta config ``config`` with ``hparams``.

    Variables the config does not create (global_step, optimizer slots, other training
    leftovers) are ignored: magenta's restore never reads them. Imports TensorFlow.
    """
    from muse_cli.quiet import quiet_tensorflow

    label = name or str(path)
    prefix = _prefix(path, name)
    quiet_tensorflow()
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(prefix)
        shapes = reader.get_variable_to_shape_map()
        dtypes = reader.get_variable_to_dtype_map()
    except (tf.errors.OpError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"checkpoint {label} is unreadable: {first}") from None
    expected = _config_variables(config, hparams or {})
    got = {k: list(v) for k, v in shapes.items()}
    problems = []
    for var, shape in expected.items():  # in the order the model creates them: encoder first
        if var not in got:
            problems.append(f"{var} is missing, expected {shape}")
        elif got[var] != shape:
            problems.append(f"{var} is {got[var]}, expected {shape}")
    if problems:
        more = f" (and {len(problems) - 1} more differences)" if len(problems) > 1 else ""
        raise CheckpointError(f"checkpoint {label} does not match config {config}: {problems[0]}{more}")
    need = sum(_count(shape) * dtypes[var].size for var, shape in shapes.items() if dtypes[var] != tf.string)
    have = sum(p.stat().st_size for p in Path(prefix).parent.glob(Path(prefix).name + ".data-*"))
    if have < need:
        raise CheckpointError(
            f"checkpoint {label} is truncated: its data files hold {have} bytes, "
            f"its variables need {need}; download it again with --force"
        )


def _prefix(path: Path, name: str | None) -> str:
    from muse_cli.cache import checkpoint_prefix

    try:
        return checkpoint_prefix(Path(path))
    except CheckpointError:
        if not name:
            raise
        # ``path`` is a temporary unpacking folder, gone by the time the user reads this: name the archive
        raise CheckpointError(
            f"checkpoint {name} is incomplete: the archive has no model.ckpt.data-* file "
            "beside its .index; nothing was installed"
        ) from None


def _count(shape) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def _config_variables(config: str, hparams: dict) -> dict[str, list[int]]:
    """name -> shape of the variables magenta's model for ``config`` creates (cached)."""
    key = (config, json.dumps(hparams, sort_keys=True))
    if key in _VARIABLES:
        return _VARIABLES[key]
    import tensorflow.compat.v1 as tf
    from magenta.models.music_vae import configs as magenta_configs

    from muse_cli.configs import any_config, create_variables

    if config not in magenta_configs.CONFIG_MAP:
        raise CheckpointError(f"config {config!r} is not one of magenta's MusicVAE configs; fix the registry entry")
    try:
        cfg = any_config(config, hparams)
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"bad hparams for config {config} in the registry: {exc}") from None
    with tf.Graph().as_default() as graph:
        create_variables(cfg)
        shapes = {
            v.op.name: v.shape.as_list()
            for v in graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)
            if v.op.name != "global_step"
        }
    _VARIABLES[key] = shapes
    return shapes
