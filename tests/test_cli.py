"""The commands end to end, on a tiny real checkpoint: through CliRunner in-process
(the model loads once per test session) and through the installed `muse` as a subprocess."""

from __future__ import annotations

import io
import json
import os
import pty
import shutil
import subprocess
import sys
import wave

import numpy as np
import pretty_midi
import pytest
from click.testing import CliRunner

from muse_cli import settings
from muse_cli.cli import cli
from muse_cli.midi import read_provenance
from muse_cli.render import RELEASE_SECONDS

STEP = 60.0 / 120 / 4  # one 16th note at 120 qpm


def invoke(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


def midi_of(path_or_file):
    return pretty_midi.PrettyMIDI(path_or_file if isinstance(path_or_file, io.BytesIO) else str(path_or_file))


def wav_info(data: bytes):
    with wave.open(io.BytesIO(data)) as w:
        frames = w.readframes(w.getnframes())
        return w.getframerate(), w.getnframes() / w.getframerate(), np.frombuffer(frames, "<i2")


# -- sample -------------------------------------------------------------------------
def test_sample_writes_n_files_with_checked_durations_and_pitches(tiny_checkpoint, tmp_path):
    r = invoke("sample", "-n", 3, "--seed", 5, "-c", tiny_checkpoint, "-o", tmp_path / "out")
    assert r.exit_code == 0, r.output
    files = sorted((tmp_path / "out").glob("*.mid"))
    assert [f.name for f in files] == [f"sample_s5_00{i}.mid" for i in (1, 2, 3)]
    assert r.stdout.split() == [str(f) for f in files]  # paths on stdout for pipelines
    for f in files:
        pm = midi_of(f)
        assert pm.get_end_time() == pytest.approx(4.0, abs=1e-3)  # 2 bars at 120 qpm
        pitches = [n.pitch for n in pm.instruments[0].notes]
        assert pitches and all(21 <= p <= 108 for p in pitches)
        assert all(n.end <= 4.0 + 1e-6 for n in pm.instruments[0].notes)


def test_same_seed_same_bytes_other_seed_differs(tiny_checkpoint, tmp_path):
    for d, seed in (("a", 11), ("b", 11), ("c", 12)):
        assert invoke("sample", "--seed", seed, "-c", tiny_checkpoint, "-o", tmp_path / d / "x.mid").exit_code == 0
    a, b, c = ((tmp_path / d / "x.mid").read_bytes() for d in "abc")
    assert a == b
    assert a != c


def test_batch_composition_does_not_change_a_melody(tiny_checkpoint, tmp_path):
    invoke("sample", "-n", 1, "--seed", 8, "-c", tiny_checkpoint, "-o", tmp_path / "one")
    invoke("sample", "-n", 4, "--seed", 8, "-c", tiny_checkpoint, "-o", tmp_path / "four")
    one, four = (tmp_path / d / "sample_s8_001.mid" for d in ("one", "four"))
    assert one.read_bytes() == four.read_bytes()


def test_long_form_lasts_the_requested_seconds(tiny_checkpoint, tmp_path):
    r = invoke("sample", "--seconds", 10, "--qpm", 90, "--seed", 1, "-c", tiny_checkpoint, "-o", tmp_path / "l.mid")
    assert r.exit_code == 0, r.output
    pm = midi_of(tmp_path / "l.mid")
    assert abs(pm.get_end_time() - 10.0) <= 60.0 / 90 / 4
    assert pm.estimate_tempo() > 0 and pm.get_tempo_changes()[1][0] == pytest.approx(90.0, abs=0.01)
    assert max(n.end for n in pm.instruments[0].notes) <= 10.0 + 1e-6


def test_provenance_is_written_into_the_midi(tiny_checkpoint, tmp_path):
    invoke("sample", "--seed", 21, "--temperature", 0.7, "-c", tiny_checkpoint, "-o", tmp_path / "p.mid")
    prov = read_provenance((tmp_path / "p.mid").read_bytes())
    assert prov["seed"] == 21 and prov["temperature"] == 0.7 and prov["checkpoint"] == "tiny"


def test_existing_output_is_kept_without_force(tiny_checkpoint, tmp_path):
    out = tmp_path / "keep.mid"
    out.write_bytes(b"precious")
    r = invoke("sample", "-c", tiny_checkpoint, "-o", out)
    assert r.exit_code == 4
    assert "exists; use --force" in r.stderr
    assert out.read_bytes() == b"precious"
    assert invoke("sample", "-c", tiny_checkpoint, "-o", out, "--force").exit_code == 0
    assert out.read_bytes().startswith(b"MThd")


def test_sample_to_stdout_is_midi(tiny_checkpoint):
    r = invoke("sample", "--seed", 2, "-c", tiny_checkpoint, "-o", "-")
    assert r.exit_code == 0
    assert r.stdout_bytes.startswith(b"MThd")
    assert midi_of(io.BytesIO(r.stdout_bytes)).get_end_time() == pytest.approx(4.0, abs=1e-3)


# -- encode / decode ---------------------------------------------------------------
def test_encode_decode_round_trip_keeps_the_bar_count(tiny_checkpoint, data_dir, tmp_path):
    r = invoke("encode", data_dir / "folk_16bar.mid", "-c", tiny_checkpoint)
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [line["start_bar"] for line in lines] == [0, 2, 4, 6, 8, 10, 12, 14]
    assert all(len(line["z"]) == 8 and line["checkpoint"] == "tiny" for line in lines)
    assert lines[0]["source"].endswith("folk_16bar.mid")
    r = invoke("decode", "-", "-c", tiny_checkpoint, "--seed", 1, "-o", tmp_path / "back.mid", input=r.stdout)
    assert r.exit_code == 0, r.output
    assert midi_of(tmp_path / "back.mid").get_end_time() == pytest.approx(32.0, abs=1e-3)  # 16 bars at 120 qpm


@pytest.mark.parametrize("fmt", ["npz", "npy"])
def test_encode_to_numpy_files(tiny_checkpoint, data_dir, tmp_path, fmt):
    out = tmp_path / f"lat.{fmt}"
    r = invoke("encode", data_dir / "folk_16bar.mid", data_dir / "folk_b.mid", "-c", tiny_checkpoint, "-o", out)
    assert r.exit_code == 0, r.output
    if fmt == "npz":
        npz = np.load(out)
        assert npz["z"].shape == (10, 8)
        assert list(npz["start_bar"]) == [0, 2, 4, 6, 8, 10, 12, 14, 0, 2]
        r = invoke("decode", out, "-c", tiny_checkpoint, "-o", tmp_path / "dec")
        assert r.exit_code == 0, r.output
        assert sorted(p.name for p in (tmp_path / "dec").iterdir()) == ["folk_16bar.decoded.mid", "folk_b.decoded.mid"]
        assert midi_of(tmp_path / "dec" / "folk_b.decoded.mid").get_end_time() == pytest.approx(8.0, abs=1e-3)
    else:
        assert np.load(out).shape == (10, 8)


def test_sample_z_differs_from_mu_and_is_seeded(tiny_checkpoint, data_dir):
    mu = invoke("encode", data_dir / "folk_b.mid", "-c", tiny_checkpoint).stdout
    s1 = invoke("encode", data_dir / "folk_b.mid", "-c", tiny_checkpoint, "--sample-z", "--seed", 4).stdout
    s2 = invoke("encode", data_dir / "folk_b.mid", "-c", tiny_checkpoint, "--sample-z", "--seed", 4).stdout
    assert s1 == s2 and s1 != mu


def test_decode_rejects_latents_of_the_wrong_size(tiny_checkpoint, tmp_path):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((2, 5), np.float32))
    r = invoke("decode", bad, "-c", tiny_checkpoint, "-o", tmp_path / "o.mid")
    assert r.exit_code == 3
    assert "size 5" in r.stderr and "expects 8" in r.stderr
    assert not (tmp_path / "o.mid").exists()


def test_decode_rejects_nan_latents(tiny_checkpoint, tmp_path):
    line = json.dumps({"source": "x", "start_bar": 0, "z": [float("nan")] + [0.0] * 7})
    r = invoke("decode", "-", "-c", tiny_checkpoint, "-o", tmp_path / "o.mid", input=line)
    assert r.exit_code == 3 and "NaN" in r.stderr
    assert not (tmp_path / "o.mid").exists()


# -- interpolate ---------------------------------------------------------------------
def test_interpolate_writes_steps_and_concat(tiny_checkpoint, data_dir, tmp_path):
    a, b = data_dir / "folk_16bar.mid", data_dir / "folk_b.mid"
    r = invoke("interpolate", a, b, "--steps", 4, "--seed", 3, "-c", tiny_checkpoint, "-o", tmp_path / "m")
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "m").glob("interp_*.mid"))) == 4
    r = invoke(
        "interpolate", a, b, "--steps", 4, "--concat", "--seed", 3, "-c", tiny_checkpoint, "-o", tmp_path / "m.mid"
    )
    assert r.exit_code == 0
    assert midi_of(tmp_path / "m.mid").get_end_time() == pytest.approx(16.0, abs=1e-3)


# -- render --------------------------------------------------------------------------
def test_render_writes_a_wav_of_the_right_length_and_rate(data_dir, tmp_path):
    out = tmp_path / "b.wav"
    r = invoke("render", data_dir / "folk_b.mid", "-o", out, "--rate", 22050)
    assert r.exit_code == 0, r.output
    rate, seconds, pcm = wav_info(out.read_bytes())
    assert rate == 22050
    assert seconds == pytest.approx(midi_of(data_dir / "folk_b.mid").get_end_time() + RELEASE_SECONDS, abs=1 / 22050)
    assert np.sqrt(np.mean(pcm.astype(float) ** 2)) > 100  # not silent


@pytest.mark.parametrize("ci", ["", "true"])
def test_render_pipes_stdin_to_stdout(data_dir, muse, ci):
    # CI=true makes pyfluidsynth print where it found libfluidsynth; that line must go to stderr
    p = muse("render", "-", "-o", "-", input=(data_dir / "folk_b.mid").read_bytes(), env={"CI": ci})
    assert p.returncode == 0, p.stderr
    assert p.stdout[:4] == b"RIFF", p.stdout[:80]
    assert b"was found" not in p.stderr
    rate, seconds, _ = wav_info(p.stdout)
    assert rate == 44100 and seconds == pytest.approx(8.0 + RELEASE_SECONDS, abs=0.01)


def test_sample_pipe_into_render_under_ci(tiny_checkpoint, muse):
    """The README's pipeline `muse sample -o - | muse render - -o -`, with CI=true as in CI jobs."""
    env = {"CI": "true"}
    s = muse("sample", "--seed", 3, "-c", tiny_checkpoint, "-o", "-", env=env)
    assert s.returncode == 0, s.stderr
    assert s.stdout[:4] == b"MThd", s.stdout[:80]
    r = muse("render", "-", "-o", "-", input=s.stdout, env=env)
    assert r.returncode == 0, r.stderr
    rate, seconds, _ = wav_info(r.stdout)
    end = midi_of(io.BytesIO(s.stdout)).get_end_time()
    assert rate == 44100 and seconds == pytest.approx(end + RELEASE_SECONDS, abs=0.01)


def test_render_never_imports_tensorflow(data_dir, tmp_path):
    code = (
        "import sys; from muse_cli.cli import main; sys.argv=['muse','render',sys.argv[1],'-o',sys.argv[2]];\n"
        "try: main()\nexcept SystemExit: pass\n"
        "print([m for m in ('tensorflow','magenta','note_seq') if m in sys.modules])"
    )
    p = subprocess.run(
        [sys.executable, "-c", code, str(data_dir / "folk_b.mid"), str(tmp_path / "x.wav")],
        capture_output=True,
        text=True,
    )
    assert p.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "x.wav").exists()


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare")
def test_missing_libfluidsynth_names_the_debian_package(data_dir, tmp_path):
    """Hide the system's libfluidsynth for real (an empty ld.so.cache in a private mount namespace)."""
    empty = tmp_path / "ld.so.cache"
    empty.write_bytes(b"")
    muse_bin = os.path.join(os.path.dirname(sys.executable), "muse")
    render = f"{muse_bin} render {data_dir / 'folk_b.mid'} -o {tmp_path / 'x.wav'}"
    cmd = f"mount --bind {empty} /etc/ld.so.cache && exec {render}"
    p = subprocess.run(["unshare", "-m", "sh", "-c", cmd], capture_output=True, text=True)
    if "mount" in p.stderr and p.returncode != 7:
        pytest.skip(f"cannot make a mount namespace here: {p.stderr.strip()}")
    assert p.returncode == 7
    assert "libfluidsynth3" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "x.wav").exists()


def test_binary_output_to_a_terminal_is_refused(data_dir):
    master, slave = pty.openpty()
    muse_bin = os.path.join(os.path.dirname(sys.executable), "muse")
    p = subprocess.run(
        [muse_bin, "render", str(data_dir / "folk_b.mid"), "-o", "-"], stdout=slave, stderr=subprocess.PIPE, text=True
    )
    os.close(slave)
    os.close(master)
    assert p.returncode == 2
    assert "terminal" in p.stderr and "-o" in p.stderr


# -- bad input: one line, an exit code, nothing left behind ----------------------------
@pytest.mark.parametrize(
    "name, code, words",
    [
        ("not_midi.mid", 3, "not a MIDI file"),
        ("empty.mid", 3, "has no notes"),
        ("drums.mid", 3, "only drum tracks"),
        ("waltz_3_4.mid", 3, "3/4"),
        ("chords.mid", 3, "only chords"),
        ("short.mid", 3, "too short"),
        ("missing.mid", 3, "no such file"),
    ],
)
def test_bad_midi_inputs(tiny_checkpoint, data_dir, tmp_path, name, code, words):
    out = tmp_path / "o.npz"
    r = invoke("encode", data_dir / name, "-c", tiny_checkpoint, "-o", out)
    assert r.exit_code == code
    assert words in r.stderr and name in r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("muse: error: ")
    assert not out.exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["--temperature", "0"], "must be > 0"),
        (["--temperature", "-1"], "must be > 0"),
        (["--seconds", "0"], "more than 0 and at most 600"),
        (["--seconds", "100000"], "more than 0 and at most 600"),
        (["--qpm", "5"], "between 20 and 400"),
    ],
)
def test_bad_options(tmp_path, args, words):
    r = invoke("sample", *args, "-o", tmp_path / "x.mid")
    assert r.exit_code == 2 and words in r.stderr
    assert not (tmp_path / "x.mid").exists()


def test_unknown_checkpoint(tmp_path):
    r = invoke("sample", "-c", "no-such-model", "-o", tmp_path / "x.mid")
    assert r.exit_code == 5 and "unknown checkpoint 'no-such-model'" in r.stderr


def test_known_but_not_installed_checkpoint_names_the_download_command(tmp_path):
    r = invoke("sample", "-c", "cat-mel_2bar_big", "-o", tmp_path / "x.mid")
    assert r.exit_code == 5 and "muse download cat-mel_2bar_big" in r.stderr


def test_checkpoint_directory_missing_files(tiny_checkpoint, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_checkpoint, broken)
    for f in broken.glob("*.data-*"):
        f.unlink()
    r = invoke("sample", "-c", broken, "-o", tmp_path / "x.mid")
    assert r.exit_code == 5 and "missing its .index or .data" in r.stderr
    assert not (tmp_path / "x.mid").exists()


@pytest.mark.parametrize("ci", ["", "true"])
def test_errors_are_one_line_without_traceback_unless_debug(muse, data_dir, tmp_path, ci):
    # CI=true (as in CI jobs) makes pyfluidsynth print where it found its library at import: not here
    p = muse("encode", data_dir / "waltz_3_4.mid", env={"CI": ci})
    assert p.returncode == 3 and b"Traceback" not in p.stderr
    assert p.stderr.decode().strip().count("\n") == 0, p.stderr
    p = muse("encode", data_dir / "waltz_3_4.mid", env={"MUSE_DEBUG": "1"})
    assert p.returncode != 0 and b"Traceback" in p.stderr and b"NoMelodyError" in p.stderr


# -- the installed command -----------------------------------------------------------
def test_installed_muse_sample_16_seconds_with_wav_and_quiet_stderr(tiny_checkpoint, muse, tmp_path):
    p = muse(
        "sample", "--seconds", 16, "--temperature", 1.0, "--seed", 9, "-c", tiny_checkpoint, "--wav", "-o", tmp_path
    )
    assert p.returncode == 0, p.stderr
    mid, wav = tmp_path / "sample_s9_001.mid", tmp_path / "sample_s9_001.wav"
    assert abs(midi_of(mid).get_end_time() - 16.0) <= STEP
    rate, seconds, pcm = wav_info(wav.read_bytes())
    assert rate == 44100 and abs(seconds - 16.0 - RELEASE_SECONDS) <= STEP and np.abs(pcm).max() > 1000
    err = p.stderr.decode()
    for chatter in ("tensorflow", "oneDNN", "WARNING", "cpu_feature_guard", "absl"):
        assert chatter not in err, err
    assert not list(tmp_path.glob(".*.part"))


def test_import_cli_stays_light():
    code = (
        "import sys, muse_cli.cli, muse_cli; "
        "print([m for m in ('tensorflow','magenta','note_seq','transformers','dask','sklearn') + "
        "tuple(m for m in sys.modules if m.startswith('muse_cli.training.') and m != 'muse_cli.training.options') "
        "if m in sys.modules])"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.stdout.strip() == "[]", p.stderr


def test_help_lists_every_command_with_examples():
    r = invoke("--help")
    for name in ("sample", "encode", "decode", "render", "interpolate", "checkpoints"):
        assert name in r.stdout
    for name in ("sample", "encode", "decode", "render", "interpolate"):
        assert "Examples:" in invoke(name, "--help").stdout


def test_checkpoints_lists_registry_and_install_state():
    r = invoke("checkpoints", "--json")
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["cat-mel_2bar_big"]["installed"] is False
    assert rows["cat-mel_2bar_big"]["config"] == "cat-mel_2bar_big"


def test_download_list_is_the_checkpoints_listing_with_the_registry_sizes():
    """Issue 20: `download --list` showed ? sizes and 18.6 MB (every file beside it) for the 8 MB embedded model,
    in another layout than `muse checkpoints`."""
    from muse_cli import registry
    from muse_cli.progress import size_text

    table = invoke("checkpoints").stdout
    assert invoke("download", "--list").stdout == table
    default, entries = registry.load()
    embedded = next(line for line in table.splitlines() if line.startswith("* "))
    assert embedded.split()[1:5] == [default, "embedded", *size_text(entries[default].size).split()]
    assert entries[default].size == sum(
        p.stat().st_size for p in (settings.EMBEDDED_DIR / entries[default].embedded).glob("model.ckpt*")
    )
    assert "?" not in table and rows_of(invoke("checkpoints", "--json"))[default]["size"] == entries[default].size


def rows_of(result) -> dict:
    return {row["name"]: row for row in json.loads(result.stdout)}
