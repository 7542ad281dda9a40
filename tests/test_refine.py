"""Latent refinement (muse_cli.refine; on by default for every MIDI input) and eval's rhythm classes.

The NumPy engine's teacher-forced loss and its gradient are held to TensorFlow's (magenta's own
``reconstruction_loss`` and ``tf.gradients`` in the magenta engine): loss within 1e-4 relative, each
window's gradient within 2e-4 of its norm + 1e-5 (measured: up to 1.1e-4 of the norm, on windows whose
loss is near 0, where both float32 softmaxes lose digits in p - 1; 1.3e-5 for z off the mean). The
loss's forward pass is held to the NumPy sampler, which tests/test_engines.py holds to magenta's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
from conftest import DATA

from muse_cli import model as m
from muse_cli.encoding import HOLD, NOTE_OFF
from muse_cli.evaluate import evaluate, load_test_windows, rhythm_classes
from muse_cli.refine import means, refine, refine_each


def _window(notes):
    """An event array from (pitch, start, end) steps."""
    ev = np.full(32, HOLD, np.int64)
    for p, s, e in notes:
        ev[s] = p - 21 + 2
        if e < 32 and ev[e] == HOLD:
            ev[e] = NOTE_OFF
    return ev


@pytest.fixture(scope="module", params=["embedded", "tiny"])
def engines(request, tiny_checkpoint):
    """(numpy engine, magenta engine) for one checkpoint."""
    ckpt = None if request.param == "embedded" else str(tiny_checkpoint)
    return m.load_model(ckpt, engine="numpy"), m.load_model(ckpt, batch_size=64, engine="magenta")


def _real_windows(n: int, every: int = 28) -> np.ndarray:
    return load_test_windows()[::every][:n]


def test_numpy_loss_and_gradient_match_tensorflow(engines):
    np_engine, tf_engine = engines
    rng = np.random.default_rng(5)
    windows = np.concatenate([_real_windows(64), rng.integers(0, 90, (36, 32))])  # real, and any events at all
    mu, _ = np_engine.encode_events(windows)
    for z in (mu, mu + rng.standard_normal(mu.shape).astype(np.float32)):
        (loss_n, grad_n), (loss_t, grad_t) = (e.reconstruction_loss_grad(z, windows) for e in engines)
        assert loss_n.shape == (100,) and grad_n.shape == z.shape
        assert np.all(np.abs(loss_n - loss_t) <= 1e-4 * np.maximum(1.0, loss_t)), np.abs(loss_n - loss_t).max()
        err = np.linalg.norm(grad_n - grad_t, axis=1) - 2e-4 * np.linalg.norm(grad_t, axis=1)
        assert err.max() < 1e-5, err.max()


def test_the_loss_forward_pass_is_the_samplers(engines):
    """Teacher-forced on its own argmax decode, the decoder's logits pick every step of that decode."""
    np_engine = engines[0]
    z = np.random.default_rng(2).standard_normal((50, np_engine.z_size)).astype(np.float32)
    decoded = np_engine.decode_events(z)
    flat = np.tanh(z @ np_engine._init_w + np_engine._init_b)
    logits, _ = np_engine._teacher_forced(z, flat, decoded)
    assert np.array_equal(np.argmax(logits, axis=-1), decoded)


def test_refinement_lowers_the_loss_and_reconstructs_better():
    model = m.load_model(None)
    windows = _real_windows(64)
    mu, _ = model.encode_events(windows)
    assert np.array_equal(refine(model, windows, mu, 0), mu)
    z = refine(model, windows, mu, 30)
    (loss_mu, _), (loss_z, _) = model.reconstruction_loss_grad(mu, windows), model.reconstruction_loss_grad(z, windows)
    assert np.mean(loss_z) < 0.7 * np.mean(loss_mu) and np.mean(loss_z <= loss_mu) >= 0.95  # 5.5 -> 3.3 nats
    before = np.mean(model.decode_events(mu) == windows)
    after = np.mean(model.decode_events(z) == windows)
    assert after > before and after >= 0.95, (before, after)


def test_refine_each_is_refine_at_each_count_and_repeats_are_refined_once():
    model = m.load_model(None)
    windows = _real_windows(6)
    windows = np.concatenate([windows, windows[:2]])  # a tune's repeats
    mu, _ = model.encode_events(windows)
    each = refine_each(model, windows, mu, [0, 3, 7])
    assert np.array_equal(each[0], mu)
    for k in (3, 7):
        assert np.array_equal(each[k], refine(model, windows, mu, k))
        assert np.array_equal(each[k][6:], each[k][:2])
    assert np.array_equal(means(model, windows, 7), each[7])  # and it runs the same twice


def test_adam_is_keras_adam():
    """The same updates as tf.keras's Adam (the TensorFlow refinement's optimizer) for the same gradients."""
    import tensorflow as tf

    target = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)

    class Quadratic:  # an engine whose loss is |z - target|^2 (events unused)
        def reconstruction_loss_grad(self, z, events):
            return np.sum((z - target) ** 2, axis=1), 2 * (z - target)

    z0 = np.zeros((3, 5), np.float32)
    ours = refine(Quadratic(), np.zeros((3, 32), np.int64) + np.arange(3)[:, None], z0, 25)
    var, opt = tf.Variable(z0), tf.keras.optimizers.Adam(0.05)
    for _ in range(25):
        opt.apply_gradients([(tf.constant(2 * (var.numpy() - target)), var)])
    np.testing.assert_allclose(ours, var.numpy(), rtol=0, atol=1e-5)


def test_rhythm_classes_find_sixteenths_syncopation_and_leaps():
    plain = _window([(60, 0, 4), (62, 4, 8), (64, 8, 16), (65, 16, 32)])
    sixteenth = _window([(60, 0, 1), (62, 4, 8)])
    off_grid = _window([(60, 3, 4)])
    syncopated = _window([(60, 0, 2), (62, 2, 6), (64, 8, 12)])  # the 2nd note starts off the beat, held over it
    leap = _window([(48, 0, 4), (67, 4, 8)])
    masks = rhythm_classes(np.stack([plain, sixteenth, off_grid, syncopated, leap]))
    assert masks["sixteenths"].tolist() == [False, True, True, False, False]
    assert masks["syncopation"].tolist() == [False, False, False, True, False]
    assert masks["leaps"].tolist() == [False, False, False, False, True]


def test_eval_reports_refined_and_per_class_figures():
    r = evaluate(m.load_model(None), limit=120, samples=16, refine_steps=10)
    for part in (r["reconstruction"], r["refined"]):
        assert set(part["by_class"]) == {"sixteenths", "syncopation", "leaps"}
        assert all(0 <= c["step_accuracy"] <= 1 for c in part["by_class"].values())
    assert r["refined"]["steps"] == 10
    assert r["refined"]["step_accuracy"] > r["reconstruction"]["step_accuracy"]


_REFERENCE = """
import sys
from muse_cli.cpu import choose_openblas_kernel
choose_openblas_kernel()  # the muse command's BLAS kernels, so that bits can be compared
import numpy as np
from muse_cli import model as m
from muse_cli.midi import read_melody, windows
from muse_cli.refine import DEFAULT_REFINE, refine
model = m.load_model(None)
events = np.stack([ev for _, ev in windows(read_melody(open(sys.argv[1], "rb").read(), sys.argv[1]))])
mu, _ = model.encode_events(events)
z = {"zero": mu, "five": refine(model, events, mu, 5), "default": refine(model, events, mu, DEFAULT_REFINE)}
loss = {f"loss_{k}": model.reconstruction_loss_grad(v, events)[0] for k, v in z.items()}
np.savez(sys.argv[2], **z, **loss)
"""


def test_encode_refines_by_default_and_refine_0_is_the_encoder_mean(muse, tmp_path):
    tune = DATA / "folk_16bar.mid"
    cases = [("default", []), ("again", []), ("zero", ["--refine", "0"]), ("five", ["--refine", "5"])]
    runs = {name: muse("encode", tune, *args, "-o", tmp_path / f"{name}.npz") for name, args in cases}
    assert all(p.returncode == 0 for p in runs.values()), [p.stderr.decode() for p in runs.values()]
    z = {name: np.load(tmp_path / f"{name}.npz")["z"] for name in runs}
    subprocess.run([sys.executable, "-c", _REFERENCE, str(tune), str(tmp_path / "ref.npz")], check=True, timeout=120)
    ref = np.load(tmp_path / "ref.npz")
    for name in ("zero", "five", "default"):
        assert np.array_equal(z[name], ref[name]), name  # zero: the encoder's mean, bit for bit
    assert (tmp_path / "default.npz").read_bytes() == (tmp_path / "again.npz").read_bytes()
    assert ref["loss_zero"].sum() > ref["loss_five"].sum() > ref["loss_default"].sum()
    bad = muse("encode", tune, "--refine", 5, "--sample-z", "-o", tmp_path / "b.npz")
    assert bad.returncode == 2 and b"--refine and --sample-z" in bad.stderr
    assert not (tmp_path / "b.npz").exists()
    assert muse("encode", tune, "--sample-z", "--seed", 1, "-o", tmp_path / "s.npz").returncode == 0


_DRIVER = """
import json, sys
from muse_cli.cli import main
report, sys.argv = sys.argv[1], ["muse"] + sys.argv[2:]
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = [n for n in ("tensorflow", "magenta", "tf_keras") if n in sys.modules]
open(report, "w").write(json.dumps({"code": code, "heavy": heavy}))
"""


def test_refining_a_real_midi_imports_no_tensorflow(tmp_path):
    report = tmp_path / "report.json"
    args = ["encode", str(DATA / "folk_16bar.mid"), "--refine", "30", "-o", str(tmp_path / "t.npz")]
    out = subprocess.run([sys.executable, "-c", _DRIVER, str(report), *args], capture_output=True, timeout=120)
    result = json.loads(report.read_text())
    assert result == {"code": 0, "heavy": []}, out.stderr.decode()


def test_huge_latents_decode_without_overflow_warnings(muse, tmp_path):
    model = m.load_model(None)
    z = np.concatenate([np.full((2, model.z_size), 1e4), np.full((2, model.z_size), -1e4)]).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would raise here
        events = model.decode_events(z)
        model.reconstruction_loss_grad(z, events)
    np.save(tmp_path / "huge.npy", z)
    p = muse("decode", tmp_path / "huge.npy", "--seed", 1, "-o", tmp_path / "huge.mid")
    assert p.returncode == 0 and (tmp_path / "huge.mid").exists()
    assert b"Warning" not in p.stderr and b"overflow" not in p.stderr, p.stderr.decode()
