"""Attribute sliders (--attr, muse attrs, muse fit-attrs): CLI, library and batch give the same bytes,
the sliders move what they name, and the file is tied to its checkpoint.

Expectations are computed at run time from the shipped attributes.npz, never pinned to its numbers
(a retrained default checkpoint brings a new file).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import run_muse

import muse_cli
from muse_cli import attributes as A
from muse_cli.errors import CheckpointError, UsageError
from muse_cli.midi import notes_to_events, read_provenance
from muse_cli.training import attributes as F


@pytest.fixture(scope="module")
def model():
    return muse_cli.load_model()


def feature(items, name: str) -> float:
    return float(np.nanmean(F.measured(np.stack([notes_to_events(g.notes) for g in items]))[name]))


def test_no_attrs_changes_nothing(model):
    plain = muse_cli.sample(model, n=3, seconds=9, seed=11)
    assert [g.midi() for g in plain] == [g.midi() for g in muse_cli.sample(model, n=3, seconds=9, seed=11, attrs={})]
    zero = muse_cli.sample(model, n=3, seconds=9, seed=11, attrs={"density": 0})
    assert [g.notes for g in zero] == [g.notes for g in plain]
    assert "attrs" not in plain[0].provenance and zero[0].provenance["attrs"] == {"density": 0.0}


@pytest.mark.parametrize("name", ["density", "register", "contour"])
def test_sliders_move_their_feature_monotonically(model, name):
    means = [feature(muse_cli.sample(model, n=48, seed=5, attrs={name: v}), name) for v in (-1.0, 0.0, 1.0)]
    assert means[0] < means[1] < means[2], means


def test_cli_forms_and_library_give_the_same_bytes(tmp_path, model):
    a, b2 = tmp_path / "a.mid", tmp_path / "b.mid"
    p = run_muse("sample", "--seed", 3, "--attr", "density=+1", "register=-0.5", "-o", a)
    assert p.returncode == 0, p.stderr.decode()
    p = run_muse("sample", "--seed", 3, "--attr", "density=+1", "--attr", "register=-0.5", "-o", b2)
    assert p.returncode == 0, p.stderr.decode()
    lib = muse_cli.sample(model, seed=3, attrs={"density": 1.0, "register": -0.5})[0].midi()
    assert a.read_bytes() == b2.read_bytes() == lib
    assert read_provenance(lib)["attrs"] == {"density": 1.0, "register": -0.5}
    assert lib != muse_cli.sample(model, seed=3)[0].midi()


def test_decode_and_vary_take_attrs(tmp_path, model, data_dir):
    tune = data_dir / "folk_16bar.mid"
    lat = tmp_path / "t.npz"
    assert run_muse("encode", tune, "-o", lat).returncode == 0
    out = tmp_path / "up.mid"
    p = run_muse("decode", lat, "--attr", "register=+1.5", "--seed", 2, "-o", out)
    assert p.returncode == 0, p.stderr.decode()
    from muse_cli.latents import read_latents

    windows = read_latents(lat.read_bytes(), str(lat))
    up = muse_cli.decode(model, windows, seed=2, attrs={"register": 1.5})
    assert out.read_bytes() == up[0].midi()
    plain = muse_cli.decode(model, windows, seed=2)
    assert np.mean([n[0] for n in up[0].notes]) > np.mean([n[0] for n in plain[0].notes])

    p = run_muse("vary", tune, "-n", 2, "--amount", 0.2, "--attr", "density=-1", "--seed", 7, "-o", tmp_path / "v")
    assert p.returncode == 0, p.stderr.decode()
    melody = muse_cli.read_melody(tune.read_bytes(), str(tune))
    lib = muse_cli.vary(model, melody, n=2, amount=0.2, seed=7, attrs={"density": -1})
    assert [f.read_bytes() for f in sorted((tmp_path / "v").iterdir())] == [g.midi() for g in lib]


def test_batch_gives_the_cli_bytes(tmp_path, model):
    jobs = tmp_path / "jobs.jsonl"
    lines = [
        {"op": "sample", "seed": 4, "out": "s.mid", "attrs": {"contour": 1, "leaps": -1}},
        {"op": "sample", "seed": 4, "out": "plain.mid"},
    ]
    jobs.write_text("".join(json.dumps(x) + "\n" for x in lines))
    p = run_muse("batch", jobs, "--workers", 1)
    assert p.returncode == 0, p.stderr.decode()
    cli = tmp_path / "cli.mid"
    assert run_muse("sample", "--seed", 4, "--attr", "contour=1", "leaps=-1", "-o", cli).returncode == 0
    assert (tmp_path / "s.mid").read_bytes() == cli.read_bytes()
    assert (tmp_path / "plain.mid").read_bytes() == muse_cli.sample(model, seed=4)[0].midi()


@pytest.mark.parametrize(
    "attrs, message",
    [
        ({"density": "1"}, "'attrs' must be an object of attribute values"),
        ({"density": 4}, "'attrs' must be an object of attribute values from -3 to 3"),
        ([1], "'attrs' must be an object"),
        ({"bogus": 1}, "attrs: unknown attribute bogus for checkpoint muse-mel_2bar; it knows: density"),
    ],
)
def test_batch_refuses_bad_attrs_before_running(tmp_path, attrs, message):
    from muse_cli import batch as b

    text = json.dumps({"op": "sample", "seed": 1, "out": "a.mid", "attrs": attrs})
    with pytest.raises(b.JobFileError) as err:
        jobs = b.parse_jobs(text, "jobs.jsonl", tmp_path)
        b.check_checkpoints(jobs, "jobs.jsonl")
    assert message in str(err.value) and "line 1" in str(err.value)


def test_batch_refuses_attrs_with_a_prompt(tmp_path):
    from muse_cli import batch as b

    text = json.dumps({"op": "decode", "seed": 1, "out": "a.mid", "prompt": "a tune", "attrs": {"density": 1}})
    with pytest.raises(b.JobFileError, match="'attrs' goes with 'latents'"):
        b.parse_jobs(text, "jobs.jsonl", tmp_path)


@pytest.mark.parametrize(
    "pairs, message",
    [
        (["density"], "is not NAME=VALUE"),
        (["density=x"], "'x' is not a number"),
        (["density=inf"], "must be a finite number"),
        (["density=3.5"], "outside [-3, 3]"),
        (["density=1", "density=2"], "given twice"),
    ],
)
def test_parse_refuses(pairs, message):
    with pytest.raises(UsageError, match=message.replace("[", r"\[")):
        A.parse(pairs)


def test_parse_reads_both_forms():
    assert A.parse(["density=+1 register=-0.5", "contour=.5"]) == {"density": 1.0, "register": -0.5, "contour": 0.5}


def test_fit_attrs_for_another_checkpoint_and_identity(tmp_path, tiny_checkpoint):
    ckpt = tmp_path / "tiny"
    shutil.copytree(tiny_checkpoint, ckpt)
    p = run_muse("sample", "-c", ckpt, "--attr", "density=1", "-o", tmp_path / "x.mid")
    assert p.returncode == 5 and f"muse fit-attrs -c {ckpt}" in p.stderr.decode(), p.stderr.decode()
    p = run_muse("fit-attrs", "-c", ckpt, "--samples", 256)
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout.decode().strip() == str(ckpt / A.FILE)
    again = run_muse("fit-attrs", "-c", ckpt, "--samples", 256)
    assert again.returncode == 4 and "--force" in again.stderr.decode()
    listing = run_muse("attrs", "-c", ckpt)
    assert listing.returncode == 0 and "density" in listing.stdout.decode()
    p = run_muse("sample", "-c", ckpt, "--attr", "density=1", "--seed", 1, "-o", tmp_path / "x.mid")
    assert p.returncode == 0, p.stderr.decode()
    # the same file beside other weights is refused
    data = ckpt / "model.ckpt.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:-1] + bytes([data.read_bytes()[-1] ^ 1]))
    model = muse_cli.load_model(str(ckpt))
    with pytest.raises(CheckpointError, match="made for another checkpoint"):
        A.load(model)


def test_attrs_lists_the_shipped_file():
    p = run_muse("attrs")
    assert p.returncode == 0, p.stderr.decode()
    out = p.stdout.decode()
    for name in A.ATTRIBUTES:
        assert f"\n{name} " in out
    assert Path(A.path_for(muse_cli.load_model().checkpoint)).is_file()


def test_fit_attrs_from_a_corpus_uses_its_training_windows_only(tmp_path, tiny_checkpoint, data_dir):
    from muse_cli.training.corpus import save_tunes

    tunes = []
    for k in range(10):
        melody = muse_cli.read_melody((data_dir / "folk_16bar.mid").read_bytes(), "folk_16bar.mid")
        notes = [(p, s / 4, e / 4 + k % 3 / 4) for p, s, e in melody.notes]  # quarters, as the corpus keeps them
        tune = {"id": f"t{k}", "notes": notes, "meter": "4/4", "meters": ["4/4"], "collection": "misc", "fields": {}}
        tunes.append({**tune, "split": "train" if k < 9 else "test"})
    save_tunes(tunes, tmp_path / "tunes.json.gz")
    ckpt = tmp_path / "tiny"
    shutil.copytree(tiny_checkpoint, ckpt)
    out = ckpt / A.FILE  # where --attr reads it: fit-attrs has no -o (issue 20)
    p = run_muse("fit-attrs", "-c", ckpt, "--tunes", tmp_path / "tunes.json.gz")
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout.decode() == f"{out}\n"
    with np.load(out) as data:
        meta = json.loads(str(data["meta"]))
    assert meta["method"].startswith("corpus: encoder means of 72 training windows")  # 9 train tunes x 8 windows
    before = out.read_bytes()
    bad = run_muse("fit-attrs", "-c", ckpt, "--tunes", data_dir / "folk_b.mid", "--force")
    assert bad.returncode == 2 and "not a readable corpus file" in bad.stderr.decode()
    assert out.read_bytes() == before


def test_fit_attrs_never_unpickles_a_tunes_file(tmp_path, tiny_checkpoint):
    """A crafted pickle given as --tunes is refused as data it cannot read: its code never runs."""
    import pickle

    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    crafted = tmp_path / "tunes.pkl"
    crafted.write_bytes(pickle.dumps(Exploit()))
    ckpt = tmp_path / "tiny"
    shutil.copytree(tiny_checkpoint, ckpt)
    p = run_muse("fit-attrs", "-c", ckpt, "--tunes", crafted)
    assert p.returncode == 2 and "not a readable corpus file" in p.stderr.decode()
    assert len(p.stderr.decode().strip().splitlines()) == 1
    assert not marker.exists() and not (ckpt / A.FILE).exists()
