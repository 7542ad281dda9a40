"""Shared fixtures: an isolated MUSE_HOME per test, a tiny real random-weight checkpoint
built once per session with magenta's own classes, the test MIDI files, and a runner
for the installed `muse` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["conftest_download"]  # its fixtures (env, server, tarballs) for every test module

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parent.parent
MUSE = str(Path(sys.executable).parent / "muse")
TINY_HPARAMS = {"z_size": 8, "enc_rnn_size": [16], "dec_rnn_size": [16, 16]}


@pytest.fixture(autouse=True)
def muse_home(tmp_path, monkeypatch):
    """Every test gets its own MUSE_HOME, so nothing touches ~/.cache/muse."""
    home = tmp_path / "muse_home"
    monkeypatch.setenv("MUSE_HOME", str(home))
    monkeypatch.delenv("MUSE_DEBUG", raising=False)
    monkeypatch.delenv("MUSE_REGISTRY", raising=False)
    monkeypatch.delenv("MUSE_MIRROR", raising=False)
    monkeypatch.delenv("MUSE_ENGINE", raising=False)  # `--engine` run in-process sets it (settings.set_engine)
    return home


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A real MusicVAE checkpoint (cat-mel_2bar_small's classes, tiny sizes, random weights)."""
    from muse_cli.training.random_weights import make_random_checkpoint

    return make_random_checkpoint(
        tmp_path_factory.mktemp("ckpt") / "tiny", "cat-mel_2bar_small", TINY_HPARAMS, seed=0, name="tiny"
    )


# One tiny random-weight checkpoint per config of MusicVAE's other families, under each registry name that uses it.
FAMILY_HPARAMS = {"enc_rnn_size": [16], "dec_rnn_size": [8, 8], "z_size": 4}
FAMILY_NAMES = {
    "cat-drums_2bar_small.lokl": "cat-drums_2bar_small",
    "cat-drums_2bar_small.hikl": "cat-drums_2bar_small",
    "nade-drums_2bar_full": "nade-drums_2bar_full",
    "groovae_2bar_humanize": "groovae_2bar_humanize",
    "groovae_4bar": "groovae_4bar",
    "groovae_2bar_tap_fixed_velocity": "groovae_2bar_tap_fixed_velocity",
    "cat-mel_2bar_med_chords": "cat-mel_2bar_med_chords",
    "hierdec-mel_16bar": "hierdec-mel_16bar",
    "hierdec-trio_16bar": "hierdec-trio_16bar",
}


def family_hparams(config: str) -> dict:
    return {**FAMILY_HPARAMS, **({"nade_num_hidden": 5} if config.startswith("nade") else {})}


@pytest.fixture(scope="session")
def family_checkpoints(tmp_path_factory) -> dict[str, Path]:
    """config -> a real checkpoint of that config (magenta's classes, tiny sizes, random weights) with its NumPy
    engine's weights exported beside it, built once per session."""
    from muse_cli.engines import weights
    from muse_cli.training.random_weights import make_random_checkpoint

    root = tmp_path_factory.mktemp("families")
    out = {}
    for config in dict.fromkeys(FAMILY_NAMES.values()):
        hparams = family_hparams(config)
        path = make_random_checkpoint(root / config, config, hparams, seed=1, name=config)
        weights.export(path, config, hparams)
        out[config] = path
    return out


def install_families(home: Path, checkpoints: dict[str, Path]) -> None:
    """Every family checkpoint installed in MUSE_HOME ``home`` under its registry names, as `muse download` would."""
    import json
    import shutil

    for name, config in FAMILY_NAMES.items():
        target = home / "checkpoints" / name
        shutil.copytree(checkpoints[config], target)
        manifest = {"name": name, "config": config, "hparams": family_hparams(config), "random_weights": True}
        (target / "muse.json").write_text(json.dumps(manifest))


def both_engines(path, batch_size: int = 16) -> tuple:
    """(numpy engine, magenta engine) of the checkpoint at ``path``, for tests that hold one to the other."""
    from muse_cli import engines, registry

    ckpt = registry.resolve(str(path))
    return engines.load(ckpt, "numpy", batch_size=batch_size), engines.load(ckpt, "magenta", batch_size=batch_size)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


def run_muse(*args, input: bytes | None = None, env: dict | None = None, cwd=None, timeout=300):
    """Run the installed `muse` as a user would; returns CompletedProcess with bytes output."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [MUSE, *map(str, args)], input=input, capture_output=True, env=full_env, cwd=cwd, timeout=timeout
    )


@pytest.fixture
def muse():
    return run_muse
