"""The training code cannot rot: a few real steps on a handful of real windows, resumed once."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np

from muse_cli.evaluate import load_test_windows

TINY = '{"z_size": 8, "enc_rnn_size": [16], "dec_rnn_size": [16], "batch_size": 8}'


def run_train(workdir, windows, steps, *extra):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "muse_cli.training.train",
            "--workdir",
            str(workdir),
            "--windows",
            str(windows),
            "--steps",
            str(steps),
            "--eval-every",
            "2",
            "--save-every",
            "2",
            "--hparams",
            TINY,
            *map(str, extra),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_train_a_few_steps_then_resume(tmp_path):
    w = load_test_windows()[:48]
    windows = tmp_path / "windows.npz"
    np.savez(windows, train=w[:32], valid=w[32:40], test=w[40:])
    first = run_train(tmp_path / "run", windows, 3)
    assert first.returncode == 0, first.stderr[-2000:]
    second = run_train(tmp_path / "run", windows, 5)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "resumed from" in second.stderr and "model.ckpt-3" in second.stderr
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert [int(r["step"]) for r in rows] == [2, 3, 4, 5]
    for r in rows:
        assert 0.0 <= float(r["valid_acc"]) <= 1.0 and float(r["loss"]) > 0 and float(r["beta"]) >= 0
    assert (tmp_path / "run" / "curves.png").stat().st_size > 1000
    from muse_cli.cache import checkpoint_prefix

    latest = checkpoint_prefix(tmp_path / "run" / "export")
    assert latest.endswith("model.ckpt-5")
    # The export holds model variables only: no Adam slots.
    import tensorflow as tf

    names = tf.train.load_checkpoint(latest).get_variable_to_shape_map()
    assert "global_step" in names and not any("Adam" in n for n in names)
    # A second run started from those variables (as `make train` does) continues at step 5.
    third = run_train(tmp_path / "next", windows, 7, "--init-from", tmp_path / "run" / "export")
    assert third.returncode == 0, third.stderr[-2000:]
    assert "started from the model variables of" in third.stderr
    next_rows = list(csv.DictReader(open(tmp_path / "next" / "log.csv")))
    assert [int(r["step"]) for r in next_rows] == [6, 7]
    assert float(next_rows[0]["wall_s"]) > float(rows[-1]["wall_s"])  # wall time counts both runs
    first_vars = tf.train.load_checkpoint(latest)
    started = tf.train.load_checkpoint(checkpoint_prefix(tmp_path / "next" / "export"))
    assert started.get_tensor("global_step") == 7 and first_vars.get_tensor("global_step") == 5


def test_encoder_only_training_leaves_every_decoder_variable_bit_identical(tmp_path):
    """`--trainable encoder` (issue 12) on the shipped model: the encoder moves, the decoder does not, by one bit."""
    import tensorflow as tf

    from muse_cli.cache import checkpoint_prefix
    from muse_cli.settings import EMBEDDED_DIR

    shipped = EMBEDDED_DIR / "muse-mel_2bar"
    before = tf.train.load_checkpoint(checkpoint_prefix(shipped))
    start = int(before.get_tensor("global_step"))
    w = load_test_windows()[:48]
    windows = tmp_path / "windows.npz"
    np.savez(windows, train=w[:32], valid=w[32:40], test=w[40:])
    proc = subprocess.run(
        [sys.executable, "-m", "muse_cli.training.train", "--workdir", str(tmp_path / "enc"), "--windows",
         str(windows), "--steps", str(start + 2), "--hparams", '{"batch_size": 8}', "--trainable", "encoder",
         "--init-from", str(shipped)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    after = tf.train.load_checkpoint(checkpoint_prefix(tmp_path / "enc" / "export"))
    assert int(after.get_tensor("global_step")) == start + 2
    names = sorted(n for n in before.get_variable_to_shape_map() if n != "global_step")
    decoder = [n for n in names if n.startswith("decoder/")]
    encoder = [n for n in names if n.startswith("encoder/")]
    assert len(decoder) == 8 and len(encoder) == 8 and len(decoder) + len(encoder) == len(names)
    for n in decoder:
        assert before.get_tensor(n).tobytes() == after.get_tensor(n).tobytes(), n
    moved = [n for n in encoder if not np.array_equal(before.get_tensor(n), after.get_tensor(n))]
    assert len(moved) == len(encoder)
    rows = list(csv.DictReader(open(tmp_path / "enc" / "log.csv")))
    assert float(rows[-1]["sampling_prob"]) == 0.0  # teacher-forced decoder
