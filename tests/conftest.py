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
