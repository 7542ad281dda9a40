"""The two engines give the same melodies: NumPy (default) against magenta's TrainedModel (reference).

Same seeds, same bytes for sample (2 bars and long form), decode and interpolate on the embedded
model and on the tiny test checkpoint; encoder mu and sigma within 1e-4 (latents refined by the default
50 steps, within 1e-3: measured 1.6e-4); sampled windows equal on
at least 999 of 1,000 (float rounding may flip a near-tie now and then; none was seen so far).
And the NumPy engine's weights: exported once, tied to the checkpoint's sha256, rebuilt when stale.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import DATA

from muse_cli import model as m
from muse_cli.engines import weights

HEAVY = ("tensorflow", "magenta", "transformers", "tf_keras")


@pytest.fixture(scope="module", params=["embedded", "tiny"])
def engines(request, tiny_checkpoint):
    """(numpy engine, magenta engine) for one checkpoint."""
    ckpt = None if request.param == "embedded" else str(tiny_checkpoint)
    return m.load_model(ckpt, engine="numpy"), m.load_model(ckpt, batch_size=64, engine="magenta")


def _melody(name):
    from muse_cli.midi import read_melody

    return read_melody((DATA / name).read_bytes(), name)


def test_sampled_windows_agree_on_at_least_999_of_1000(engines):
    np_engine, tf_engine = engines
    z = np.random.default_rng(7).standard_normal((1000, np_engine.z_size)).astype(np.float32)
    seeds = [(7, i, 1, 0) for i in range(1000)]
    for temperature in (1.0, 0.5):
        got = np_engine.decode_events(z, temperature, seeds), tf_engine.decode_events(z, temperature, seeds)
        same = np.all(got[0] == got[1], axis=1)
        assert same.sum() >= 999, f"T {temperature}: {1000 - same.sum()} of 1000 windows differ"
    assert np.all(np_engine.decode_events(z[:256]) == tf_engine.decode_events(z[:256]))  # argmax


def test_encoder_mu_and_sigma_within_1e_4(engines):
    np_engine, tf_engine = engines
    events = tf_engine.decode_events(
        np.random.default_rng(3).standard_normal((200, tf_engine.z_size)), 1.0, [(3, i, 1, 0) for i in range(200)]
    )
    (mu_n, sigma_n), (mu_t, sigma_t) = np_engine.encode_events(events), tf_engine.encode_events(events)
    assert np.abs(mu_n - mu_t).max() < 1e-4
    assert np.abs(sigma_n - sigma_t).max() < 1e-4
    assert sigma_n.min() > 0


def test_same_seed_same_bytes_for_every_recipe(engines):
    np_engine, tf_engine = engines

    def everything(model):
        out = m.sample(model, n=3, seed=11) + m.sample(model, n=2, seconds=16, seed=12, qpm=100)
        tune = _melody("folk_16bar.mid")
        latents = m.encode(model, [tune])
        out += m.decode(model, latents, seed=13)
        out += m.interpolate(model, tune, _melody("folk_b.mid"), steps=4, seed=14)
        mean = m.encode(model, [tune], refine=0)
        return [g.midi() for g in out], np.stack([w.z for w in latents]), np.stack([w.z for w in mean])

    (midi_n, z_n, mu_n), (midi_t, z_t, mu_t) = everything(np_engine), everything(tf_engine)
    assert np.abs(mu_n - mu_t).max() < 1e-4
    # refined by default: 50 Adam steps on each engine's float32 gradient (within 2e-4 of each other, test_refine)
    assert np.abs(z_n - z_t).max() < 1e-3
    assert midi_n == midi_t


def test_prompted_sample_with_candidates_same_bytes(engines, request):
    from muse_cli.prompt import api

    if engines[0].name != "muse-mel_2bar":
        pytest.skip("the tiny checkpoint has no prompt head")
    made = [
        [
            g.midi()
            for g in api.sample_with_prompt(e, "a slow sad tune in A minor", n=2, seconds=8, seed=4, candidates=8)
        ]
        for e in engines
    ]
    assert made[0] == made[1]


def test_muse_eval_gives_the_same_numbers_on_both_engines(engines):
    from muse_cli.evaluate import evaluate

    np_engine, tf_engine = engines
    numbers = [evaluate(e, limit=400, samples=128, seed=2) for e in engines]
    for r in numbers:
        del r["seconds"], r["batch_size"]
    assert numbers[0] == numbers[1]


# -- exported weights ---------------------------------------------------------------------
def _copy_checkpoint(src, dest):
    dest.mkdir()
    for f in src.iterdir():
        if f.name.startswith("model.ckpt") or f.name == "muse.json":
            shutil.copy2(f, dest / f.name)
    return dest


def test_the_embedded_export_belongs_to_the_shipped_checkpoint():
    from muse_cli import registry
    from muse_cli.cache import checkpoint_identity, sha256_of

    ckpt = registry.resolve(None)
    meta, arrays = weights._read(ckpt.path / weights.FILENAME)
    assert meta["checkpoint_sha256"] == checkpoint_identity(ckpt.path) == ckpt.sha256
    assert meta["config"] == {"name": ckpt.config, "hparams": ckpt.hparams}  # checked against it at export
    assert weights._belongs(meta, ckpt.path)  # so loading it needs no TensorFlow
    manifest = json.loads((ckpt.path / "muse.json").read_text())
    assert manifest["numpy_weights_sha256"] == sha256_of(ckpt.path / weights.FILENAME)
    assert set(weights.read_checkpoint(ckpt.path)) == set(arrays)


def test_export_is_made_once_beside_the_checkpoint_and_rebuilt_when_stale(tiny_checkpoint, tmp_path):
    from muse_cli.cache import checkpoint_identity

    ckpt = _copy_checkpoint(tiny_checkpoint, tmp_path / "ckpt")
    first = weights.load(ckpt)
    export = ckpt / weights.FILENAME
    meta, _ = weights._read(export)
    assert meta["checkpoint_sha256"] == checkpoint_identity(ckpt)
    mtime = export.stat().st_mtime_ns
    weights.load(ckpt)
    assert export.stat().st_mtime_ns == mtime  # used, not made again

    # New weights under the same name (a re-trained or re-downloaded checkpoint): the old export is stale.
    from conftest import TINY_HPARAMS

    from muse_cli.training.random_weights import make_random_checkpoint

    other = make_random_checkpoint(tmp_path / "other", "cat-mel_2bar_small", TINY_HPARAMS, seed=1, name="tiny")
    for f in other.glob("model.ckpt*"):
        shutil.copy2(f, ckpt / f.name)
    again = weights.load(ckpt)
    kernel = "decoder/output_projection/kernel"
    assert not np.array_equal(again[kernel], first[kernel])
    assert np.array_equal(again[kernel], weights.read_checkpoint(other)[kernel])
    assert weights._read(export)[0]["checkpoint_sha256"] == checkpoint_identity(ckpt)


def test_an_export_of_other_weights_is_never_used(tiny_checkpoint, tmp_path):
    ckpt = _copy_checkpoint(tiny_checkpoint, tmp_path / "ckpt")
    shutil.copy2(m.load_model(None).checkpoint / weights.FILENAME, ckpt / weights.FILENAME)  # the embedded model's
    assert weights.load(ckpt)["decoder/z_to_initial_state/kernel"].shape[0] == 8  # the tiny model's z


def test_a_corrupt_export_is_rebuilt(tiny_checkpoint, tmp_path):
    ckpt = _copy_checkpoint(tiny_checkpoint, tmp_path / "ckpt")
    (ckpt / weights.FILENAME).write_bytes(b"PK\x03\x04 not really")
    assert weights.load(ckpt)["decoder/z_to_initial_state/kernel"].shape[0] == 8
    assert weights._read(ckpt / weights.FILENAME) is not None


def test_engine_option_and_variable(muse, tmp_path):
    a = muse("sample", "--seed", 3, "--engine", "magenta", "-o", tmp_path / "a.mid")
    b = muse("sample", "--seed", 3, "-o", tmp_path / "b.mid")
    c = muse("sample", "--seed", 3, "-o", tmp_path / "c.mid", env={"MUSE_ENGINE": "magenta"})
    assert a.returncode == b.returncode == c.returncode == 0, (a.stderr, b.stderr, c.stderr)
    assert (tmp_path / "a.mid").read_bytes() == (tmp_path / "b.mid").read_bytes() == (tmp_path / "c.mid").read_bytes()
    bad = muse("sample", "-o", tmp_path / "d.mid", env={"MUSE_ENGINE": "torch"})
    assert bad.returncode == 2 and bad.stderr.decode().strip().splitlines() == [
        "muse: error: MUSE_ENGINE='torch' is not an engine; use one of: numpy, magenta"
    ]
    assert not (tmp_path / "d.mid").exists()


# -- what a melody costs: no TensorFlow ----------------------------------------------------------
_DRIVER = r"""
import json, sys
from muse_cli.cli import main
report, sys.argv = sys.argv[1], ["muse"] + sys.argv[2:]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = [name for name in HEAVY if name in sys.modules]
open(report, "w").write(json.dumps({"code": code, "heavy": heavy}))
""".replace("HEAVY", repr(HEAVY))


@pytest.mark.parametrize(
    "args",
    [
        ["sample", "--seconds", "16", "--seed", "1", "-o", "s.mid"],
        ["encode", str(DATA / "folk_16bar.mid"), "-o", "t.npz"],
        ["interpolate", str(DATA / "folk_16bar.mid"), str(DATA / "folk_b.mid"), "-o", "i/"],
        ["decode", "--midi", str(DATA / "folk_16bar.mid"), "-o", "d.mid"],
        ["decode", "--prompt", "a slow sad tune in A minor", "--seed", "1", "-o", "p.mid"],
        ["sample", "--prompt", "a fast happy reel", "--seconds", "16", "-n", "2", "-o", "p/"],
    ],
)
def test_generating_a_melody_imports_no_tensorflow(args, tmp_path):
    report = tmp_path / "report.json"
    out = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(report), *args], cwd=tmp_path, capture_output=True, timeout=120
    )
    result = json.loads(report.read_text())
    assert result["code"] in (0, None), out.stderr.decode()
    assert result["heavy"] == [], f"{args[0]} imported {result['heavy']}"


# -- the BLAS kernels the muse command picks ---------------------------------------------------------
@pytest.mark.parametrize(
    "flags,kernel",
    [
        ({"sse3", "avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"}, "SkylakeX"),
        ({"sse3", "avx2", "fma", "avx512f"}, "Haswell"),  # AVX-512 without BW/DQ/VL (Knights Landing)
        ({"sse3", "avx2", "fma"}, "Haswell"),
        ({"sse3", "avx"}, None),
        (set(), None),
    ],
)
def test_openblas_kernel_follows_the_cpu_flags(flags, kernel):
    from muse_cli.cpu import openblas_kernel

    assert openblas_kernel(flags) == kernel


def test_a_chosen_openblas_kernel_is_kept_and_the_command_gives_magentas_bytes(muse, tmp_path):
    """Whatever kernel the command runs (its own choice, or the user's), the NumPy engine's melodies
    are TrainedModel's: 40 long-form melodies (320 windows) byte for byte."""
    outs = {}
    for label, env in (
        ("chosen", {}),
        ("user's", {"OPENBLAS_CORETYPE": "Prescott"}),
        ("magenta", {"MUSE_ENGINE": "magenta"}),
    ):
        out = tmp_path / label
        p = muse("sample", "-n", 40, "--seconds", 32, "--seed", 9, "-o", out, env=env)
        assert p.returncode == 0, p.stderr.decode()
        outs[label] = [f.read_bytes() for f in sorted(out.glob("*.mid"))]
    assert len(outs["magenta"]) == 40
    assert outs["chosen"] == outs["magenta"] and outs["user's"] == outs["magenta"]


def test_batch_runs_big_checkpoints_on_tensorflow_and_small_ones_on_numpy(tiny_checkpoint, tmp_path, monkeypatch):
    from muse_cli.engines import BATCH_TF_BYTES, for_batch

    monkeypatch.delenv("MUSE_ENGINE", raising=False)
    assert for_batch(None) == for_batch(str(tiny_checkpoint)) == "numpy"  # 8 MB and a few KB
    big = _copy_checkpoint(tiny_checkpoint, tmp_path / "big")
    with open(next(big.glob("model.ckpt.data-*")), "ab") as f:
        f.truncate(BATCH_TF_BYTES)  # the size is all the choice looks at
    assert for_batch(str(big)) == "magenta"
    monkeypatch.setenv("MUSE_ENGINE", "numpy")
    assert for_batch(str(big)) == "numpy"  # the user's choice wins
