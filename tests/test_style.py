"""Styles (issue 18): `muse fit-style DIR -o NAME`, `--style NAME` on sample and continue, a job's "style",
`muse styles`; the real embedded checkpoint, real MIDI files from tests/data and transposed copies of them."""

from __future__ import annotations

import io
import json
import shutil
import zipfile

import numpy as np
import pytest
from conftest import DATA, run_muse

from muse_cli.midi import read_melody, read_provenance, to_midi_bytes

TUNES = ("folk_16bar.mid", "folk_b.mid")


@pytest.fixture(scope="module")
def tune_dir(tmp_path_factory):
    """The two real folk tunes and two transposed copies of each, plus an unreadable file."""
    folder = tmp_path_factory.mktemp("tunes")
    for name in TUNES:
        melody = read_melody((DATA / name).read_bytes(), name)
        shutil.copy(DATA / name, folder / name)
        for shift in (-3, 5):
            notes = [(p + shift, s, e) for p, s, e in melody.notes]
            (folder / f"{name[:-4]}_{shift:+d}.midi").write_bytes(to_midi_bytes(notes, melody.qpm))
    (folder / "broken.mid").write_bytes(b"not a midi file")
    (folder / "notes.txt").write_text("ignored: not .mid")
    return folder


@pytest.fixture(scope="module")
def fitted(tune_dir, tmp_path_factory):
    """`muse fit-style` run once: (its result, the style file's bytes)."""
    home = tmp_path_factory.mktemp("home")
    r = run_muse("fit-style", tune_dir, "-o", "folk", env={"MUSE_HOME": str(home)})
    return r, (home / "styles" / "folk.npz").read_bytes()


@pytest.fixture
def folk(fitted, muse_home):
    """The fitted style installed in this test's MUSE_HOME."""
    (muse_home / "styles").mkdir(parents=True, exist_ok=True)
    (muse_home / "styles" / "folk.npz").write_bytes(fitted[1])
    return muse_home / "styles" / "folk.npz"


def test_fit_style_reads_the_folder_and_writes_a_conductor_for_the_checkpoint(fitted):
    r, data = fitted
    err = r.stderr.decode()
    assert r.returncode == 0, err
    assert err.count("skipped") == 1 and "skipped broken.mid:" in err  # one line per unreadable file
    assert "from 6 tunes" in err and r.stdout.decode().strip().endswith("styles/folk.npz")
    with np.load(io.BytesIO(data)) as npz:
        meta = json.loads(str(npz["meta"]))
        assert npz["first_mean"].shape == (2, 128)
    assert meta["checkpoint"] == "muse-mel_2bar" and len(meta["checkpoint_sha256"]) == 64
    assert meta["style"]["tunes"] == 6 and meta["style"]["windows"] >= 6 * 4


def test_sample_with_a_style_differs_from_no_style_and_is_deterministic(folk, tmp_path):
    runs = {}
    for name, extra in (("a", ["--style", "folk"]), ("b", ["--style", "folk"]), ("plain", [])):
        r = run_muse("sample", "--seconds", 16, "--seed", 3, *extra, "-o", tmp_path / f"{name}.mid")
        assert r.returncode == 0, r.stderr.decode()
        runs[name] = (tmp_path / f"{name}.mid").read_bytes()
    assert runs["a"] == runs["b"]
    styled, plain = read_melody(runs["a"], "a"), read_melody(runs["plain"], "plain")
    assert styled.notes != plain.notes and styled.total_steps == plain.total_steps == 8 * 16
    assert read_provenance(runs["a"])["style"] == "folk" and "style" not in read_provenance(runs["plain"])


def test_continue_with_a_style_keeps_the_input_and_records_the_style(folk, tmp_path):
    out = tmp_path / "more.mid"
    r = run_muse("continue", DATA / "folk_b.mid", "--seconds", 8, "--style", "folk", "--seed", 1, "-o", out)
    assert r.returncode == 0, r.stderr.decode()
    source = read_melody((DATA / "folk_b.mid").read_bytes(), "in")
    got = read_melody(out.read_bytes(), "out")
    assert got.notes[: len(source.notes)] == source.notes and len(got.notes) > len(source.notes)
    assert read_provenance(out.read_bytes())["style"] == "folk"


def test_styles_lists_the_installed_styles(folk, muse_home):
    r = run_muse("styles")
    assert r.returncode == 0 and r.stdout.decode().startswith("folk ") and "6 tunes" in r.stdout.decode()
    shutil.rmtree(muse_home / "styles")
    assert "no styles in" in run_muse("styles").stdout.decode()


@pytest.mark.parametrize(
    "files, says",
    [
        ((), "has no usable MIDI file"),
        (("folk_b.mid",), "has only one usable tune"),
        (("chords.mid", "waltz_3_4.mid"), "has no usable MIDI file"),
    ],
)
def test_fit_style_refuses_a_folder_without_two_tunes(tmp_path, muse_home, files, says):
    folder = tmp_path / "few"
    folder.mkdir()
    for name in files:
        shutil.copy(DATA / name, folder / name)
    r = run_muse("fit-style", folder, "-o", "few")
    err = r.stderr.decode().strip().splitlines()
    want = f"muse: error: {folder} {says}; a style needs two tunes or more (.mid, .midi, 4/4 melodies)"
    assert r.returncode == 3 and err[-1] == want, err
    assert "Traceback" not in r.stderr.decode() and not (muse_home / "styles").exists()
    r = run_muse("fit-style", tmp_path / "missing", "-o", "few")
    assert r.returncode == 3 and "is not a folder" in r.stderr.decode()


def test_fit_style_refuses_a_bad_name_and_an_existing_style_without_force(folk, tune_dir):
    r = run_muse("fit-style", tune_dir, "-o", "../up")
    assert r.returncode == 2 and "style name '../up' is not a plain name" in r.stderr.decode()
    before = folk.read_bytes()
    r = run_muse("fit-style", tune_dir, "-o", "folk")
    assert r.returncode == 4 and "folk.npz" in r.stderr.decode() and folk.read_bytes() == before
    assert "loading model" not in r.stderr.decode()  # refused before any work
    r = run_muse("sample", "--style", "no/pe")
    assert r.returncode == 2 and "not a plain name" in r.stderr.decode()


def test_an_unknown_broken_or_foreign_style_is_a_one_line_error(folk, tmp_path):
    r = run_muse("sample", "--seconds", 8, "--style", "nope", "-o", tmp_path / "x.mid")
    assert r.returncode == 2 and "no style 'nope'" in r.stderr.decode() and "installed: folk" in r.stderr.decode()
    with np.load(folk) as npz:
        arrays = {k: npz[k] for k in npz.files if k != "meta"}
        meta = json.loads(str(npz["meta"]))
    buf = io.BytesIO()
    np.savez(buf, **arrays, meta=np.array(json.dumps({**meta, "checkpoint_sha256": "0" * 64})))
    (folk.parent / "other.npz").write_bytes(buf.getvalue())
    r = run_muse("sample", "--seconds", 8, "--style", "other", "-o", tmp_path / "x.mid")
    lines = r.stderr.decode().strip().splitlines()
    assert r.returncode == 5 and "was made for another checkpoint" in lines[-1], lines
    assert "muse fit-style DIR -o other" in lines[-1]
    (folk.parent / "bad.npz").write_bytes(b"PK\x03\x04 not really a zip")
    r = run_muse("continue", DATA / "folk_b.mid", "--style", "bad", "-o", tmp_path / "y.mid")
    assert r.returncode == 5 and "is not a readable conductor file" in r.stderr.decode()
    assert not (tmp_path / "x.mid").exists() and not (tmp_path / "y.mid").exists()
    r = run_muse("sample", "--seconds", 8, "--style", "folk", "--walk", "-o", tmp_path / "x.mid")
    assert r.returncode == 2 and "leave out --walk" in r.stderr.decode()
    assert zipfile.is_zipfile(folk)


def test_a_batch_job_takes_a_style_and_makes_what_the_command_makes(folk, tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    lines = [
        {"op": "sample", "seed": 3, "seconds": 16, "style": "folk", "out": "s.mid"},
        {"op": "continue", "midi": str(DATA / "folk_b.mid"), "seed": 1, "seconds": 8, "style": "folk", "out": "c.mid"},
    ]
    jobs.write_text("".join(json.dumps(x) + "\n" for x in lines))
    r = run_muse("batch", jobs, "--workers", 1)
    assert r.returncode == 0, r.stderr.decode()
    one = tmp_path / "one.mid"
    assert run_muse("sample", "--seconds", 16, "--seed", 3, "--style", "folk", "-o", one).returncode == 0
    assert (tmp_path / "s.mid").read_bytes() == one.read_bytes()
    assert read_provenance((tmp_path / "c.mid").read_bytes())["style"] == "folk"
    jobs.write_text(json.dumps({"op": "sample", "seed": 1, "style": "a b", "out": "t.mid"}) + "\n")
    r = run_muse("batch", jobs, "--workers", 1)
    assert r.returncode == 2 and "'style' must be a style name" in r.stderr.decode()
