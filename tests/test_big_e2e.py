"""The whole path a user takes with Magenta's big checkpoint, on a random-weight checkpoint with
cat-mel_2bar_big's exact shapes: served by a real HTTP server on 127.0.0.1 through MUSE_MIRROR,
installed by `muse download`, then sampled from and rendered. Slow: the checkpoint is 538 MB.

Set MUSE_BIG_CHECKPOINT to an existing one (make big) to skip building it."""

from __future__ import annotations

import io
import os
import tarfile
import wave
from pathlib import Path

import pretty_midi
import pytest
from conftest import run_muse
from conftest_download import Server

from muse_cli.render import RELEASE_SECONDS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_checkpoint(tmp_path_factory) -> Path:
    existing = os.environ.get("MUSE_BIG_CHECKPOINT")
    if existing:
        return Path(existing)
    from muse_cli.training.random_weights import make_random_checkpoint

    return make_random_checkpoint(tmp_path_factory.mktemp("big") / "cat-mel_2bar_big", "cat-mel_2bar_big")


def test_download_sample_and_render_the_big_shaped_checkpoint(big_checkpoint, tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:  # Magenta's layout: one folder, model.ckpt.* inside
        for f in sorted(big_checkpoint.glob("model.ckpt*")):
            tar.add(f, arcname=f"cat-mel_2bar_big/{f.name}")
    server = Server()
    try:
        server.files["/models/music_vae/checkpoints/cat-mel_2bar_big.tar"] = buf.getvalue()
        env = {"MUSE_MIRROR": server.base}
        p = run_muse("download", "cat-mel_2bar_big", env=env, timeout=900)
        assert p.returncode == 0, p.stderr.decode()[-2000:]
        assert b"first use" in p.stdout + p.stderr
        out = tmp_path / "big.mid"
        p = run_muse(
            "sample", "--seconds", 8, "--seed", 1, "-c", "cat-mel_2bar_big", "--wav", "-o", out, env=env, timeout=900
        )
        assert p.returncode == 0, p.stderr.decode()[-2000:]
        assert pretty_midi.PrettyMIDI(str(out)).get_end_time() == pytest.approx(8.0, abs=0.125)
        with wave.open(str(out.with_suffix(".wav"))) as w:
            assert w.getnframes() / w.getframerate() == pytest.approx(8.0 + RELEASE_SECONDS, abs=0.125)
        p = run_muse("checkpoints", env=env)
        assert b"cat-mel_2bar_big" in p.stdout and b"installed" in p.stdout
    finally:
        server.close()


def test_both_engines_give_the_same_bytes_on_the_big_shaped_checkpoint(big_checkpoint, tmp_path):
    """cat-mel_2bar_big's shapes (z 512, encoder 2048, decoder 3x2048): sample, long form and decode agree."""
    outs = {}
    for engine in ("numpy", "magenta"):
        out = tmp_path / engine
        env = {"MUSE_ENGINE": engine}
        p = run_muse(
            "sample", "-n", 6, "--seconds", 8, "--seed", 3, "-c", big_checkpoint, "-o", out / "s", env=env, timeout=900
        )
        assert p.returncode == 0, p.stderr.decode()[-2000:]
        tune = Path(__file__).parent / "data" / "folk_16bar.mid"
        p = run_muse(
            "decode", "--midi", tune, "--seed", 3, "-c", big_checkpoint, "-o", out / "d.mid", env=env, timeout=900
        )
        assert p.returncode == 0, p.stderr.decode()[-2000:]
        outs[engine] = sorted((f.relative_to(out).as_posix(), f.read_bytes()) for f in out.rglob("*.mid"))
    assert len(outs["numpy"]) == 7
    assert outs["numpy"] == outs["magenta"]
