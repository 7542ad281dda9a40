"""Every family from the command line, the library and batch, on both engines (issue 21).

Real parts: tiny random-weight checkpoints of each config built with magenta's own classes (conftest), installed
under their registry names as `muse download` would, real MIDI read back with pretty_midi, real FluidSynth.
"""

from __future__ import annotations

import io
import json

import pretty_midi
import pytest
from click.testing import CliRunner
from conftest import FAMILY_NAMES, install_families, run_muse

from muse_cli.cli import cli

NAMES = sorted(FAMILY_NAMES)
CHORDS = ["--chords", "C G Am F"]


@pytest.fixture
def installed(muse_home, family_checkpoints):
    install_families(muse_home, family_checkpoints)
    return muse_home


def invoke(*args, engine: str = "numpy"):
    """``muse ARGS`` in this process (a model command on ``engine``)."""
    light = args[0] in ("render", "show")
    return CliRunner().invoke(cli, [*map(str, args), *([] if light else ["--engine", engine])], catch_exceptions=False)


def extra(name: str) -> list[str]:
    return CHORDS if FAMILY_NAMES[name] == "cat-mel_2bar_med_chords" else []


def read(path) -> pretty_midi.PrettyMIDI:
    return pretty_midi.PrettyMIDI(io.BytesIO(path.read_bytes()))


@pytest.mark.parametrize("name", NAMES)
def test_sample_on_both_engines_gives_the_same_bytes(installed, tmp_path, name):
    out = {}
    for engine in ("numpy", "magenta"):
        r = invoke(
            "sample", "-c", name, "--seed", 7, "-n", 2, *extra(name), "-o", tmp_path / engine / "", engine=engine
        )
        assert r.exit_code == 0, r.output
        out[engine] = sorted((tmp_path / engine).glob("*.mid"))
    assert [p.name for p in out["numpy"]] == ["sample_s7_001.mid", "sample_s7_002.mid"]
    for a, b in zip(out["numpy"], out["magenta"]):
        assert a.read_bytes() == b.read_bytes(), f"{name}: engines differ on {a.name}"


def test_what_each_family_writes(installed, tmp_path):
    got = {}
    for name in ("cat-drums_2bar_small.lokl", "nade-drums_2bar_full", "groovae_4bar", "hierdec-trio_16bar"):
        r = invoke("sample", "-c", name, "--seed", 1, "-o", tmp_path / f"{name}.mid")
        assert r.exit_code == 0, r.output
        got[name] = read(tmp_path / f"{name}.mid")
    for name in ("cat-drums_2bar_small.lokl", "nade-drums_2bar_full", "groovae_4bar"):
        assert [i.is_drum for i in got[name].instruments] == [True], name  # channel 10
    assert got["groovae_4bar"].get_end_time() <= 8.0 + 1e-6  # 4 bars at 120 qpm
    trio = got["hierdec-trio_16bar"]
    assert [i.is_drum for i in trio.instruments] == [False, False, True]  # melody, bass, drums
    assert trio.instruments[1].program in range(32, 40)  # a General MIDI bass


def test_chords_are_written_and_checked(installed, tmp_path):
    r = invoke(
        "sample", "-c", "cat-mel_2bar_med_chords", *CHORDS, "--seconds", 8, "--seed", 2, "-o", tmp_path / "c.mid"
    )
    assert r.exit_code == 0, r.output
    data = (tmp_path / "c.mid").read_bytes()
    for chord in ("C", "G", "Am", "F"):
        assert b"\xff\x06" + bytes([len(chord)]) + chord.encode() in data  # a marker per chord
    assert len(read(tmp_path / "c.mid").instruments) == 2  # the melody and the chords
    bad = invoke("sample", "-c", "cat-mel_2bar_med_chords", "--chords", "C H7", "-o", tmp_path / "x.mid")
    assert bad.exit_code == 2 and "H7" in bad.output and "Traceback" not in bad.output
    none = invoke("sample", "-c", "cat-mel_2bar_med_chords", "-o", tmp_path / "y.mid")
    assert none.exit_code == 2 and "--chords" in none.output
    melody = invoke("sample", *CHORDS, "-o", tmp_path / "z.mid")
    assert melody.exit_code == 2 and "not conditioned on chords" in melody.output
    assert not list(tmp_path.glob("[xyz].mid"))


@pytest.mark.parametrize("name", NAMES)
def test_encode_decode_vary_interpolate_render_show(installed, tmp_path, name):
    src = tmp_path / "src.mid"
    assert invoke("sample", "-c", name, "--seed", 3, *extra(name), "-o", src).exit_code == 0
    r = invoke("encode", src, "-c", name, *extra(name), "-o", tmp_path / "z.npz")
    assert r.exit_code == 0, r.output
    r = invoke("decode", tmp_path / "z.npz", "-c", name, *extra(name), "--seed", 1, "-o", tmp_path / "d.mid")
    assert r.exit_code == 0, r.output
    r = invoke("decode", "--midi", src, "-c", name, *extra(name), "--seed", 1, "-o", tmp_path / "m.mid")
    assert r.exit_code == 0, r.output
    r = invoke("vary", src, "-c", name, "-n", 2, *extra(name), "--seed", 1, "-o", tmp_path / "v" / "")
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "v").glob("*.mid"))) == 2
    r = invoke("interpolate", src, tmp_path / "d.mid", "-c", name, "--steps", 3, "--seed", 1, "-o", tmp_path / "i" / "")
    assert r.exit_code == 0, r.output
    r = invoke("render", tmp_path / "d.mid", "-o", tmp_path / "d.wav")
    assert r.exit_code == 0 and (tmp_path / "d.wav").stat().st_size > 44
    r = invoke("show", tmp_path / "d.mid")
    assert r.exit_code == 0 and r.output.strip()


def test_groove_and_drumify(installed, tmp_path):
    beat = tmp_path / "beat.mid"
    assert invoke("sample", "-c", "cat-drums_2bar_small.hikl", "--seed", 4, "-o", beat).exit_code == 0
    r = invoke("groove", beat, "--seed", 1, "-o", tmp_path / "g.mid")
    assert r.exit_code == 0, r.output
    assert [i.is_drum for i in read(tmp_path / "g.mid").instruments] == [True]
    r = invoke("drumify", beat, "--seed", 1, "-o", tmp_path / "t.mid")
    assert r.exit_code == 0, r.output
    wrong = invoke("groove", beat, "-c", "cat-drums_2bar_small.hikl", "-o", tmp_path / "w.mid")
    assert wrong.exit_code == 2 and "GrooVAE" in wrong.output


def test_melody_options_are_refused_for_other_families(installed, tmp_path):
    for args in (["--prompt", "a sad tune"], ["--form", "AABA", "--seconds", "32"], ["--attr", "density=1"]):
        r = invoke("sample", "-c", "cat-drums_2bar_small.lokl", *args, "-o", tmp_path / "x.mid")
        assert r.exit_code == 2 and "2-bar melody" in r.output, r.output


def test_batch_runs_family_jobs(installed, tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    lines = [
        {"op": "sample", "checkpoint": "cat-drums_2bar_small.lokl", "seed": 5, "out": str(tmp_path / "b" / "d.mid")},
        {
            "op": "sample",
            "checkpoint": "cat-mel_2bar_med_chords",
            "seed": 5,
            "chords": "C G",
            "out": str(tmp_path / "b" / "c.mid"),
        },
    ]
    jobs.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    r = run_muse("batch", jobs, "--workers", "1")
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    one = tmp_path / "one.mid"
    assert invoke("sample", "-c", "cat-drums_2bar_small.lokl", "--seed", 5, "-o", one).exit_code == 0
    assert (tmp_path / "b" / "d.mid").read_bytes() == one.read_bytes()  # batch gives the CLI's bytes


def test_library_gives_the_cli_bytes(installed, tmp_path):
    import muse_cli

    for name in ("nade-drums_2bar_full", "groovae_2bar_humanize", "cat-mel_2bar_med_chords", "hierdec-trio_16bar"):
        model = muse_cli.load_model(name)
        chords = "C G Am F" if extra(name) else None
        item = muse_cli.sample(model, n=1, seed=9, chords=chords)[0]
        assert invoke("sample", "-c", name, "--seed", 9, *extra(name), "-o", tmp_path / f"{name}.mid").exit_code == 0
        assert (tmp_path / f"{name}.mid").read_bytes() == item.midi(), name
        song = muse_cli.read(model, item.midi(), f"{name}.mid")
        back = muse_cli.decode(model, muse_cli.encode(model, [song]), seed=1, chords=chords)[0]
        assert back.seconds == pytest.approx(item.seconds) and back.notes, name


def test_every_config_muse_builds_is_one_it_plays():
    from muse_cli.configs import SEEDED_CONFIGS
    from muse_cli.families import FAMILIES

    assert set(FAMILIES) == set(SEEDED_CONFIGS)


BAD_MIDI = {
    "empty": b"",
    "not-midi": b"hello, this is text\n",
    "truncated": b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x00\x40\x00\xff",
    "mthd-junk": b"MThd" + bytes(range(200)),
}


@pytest.mark.parametrize("bad", BAD_MIDI)
@pytest.mark.parametrize("name", ["cat-drums_2bar_small.lokl", "groovae_2bar_tap_fixed_velocity", "hierdec-trio_16bar"])
def test_a_malformed_midi_file_is_one_line_for_every_family_reader(installed, tmp_path, name, bad):
    (tmp_path / "bad.mid").write_bytes(BAD_MIDI[bad])
    for args in (["decode", "--midi"], ["encode"], ["vary"]):
        out = tmp_path / "out.mid" if args[0] != "encode" else tmp_path / "z.npz"
        r = invoke(*args, tmp_path / "bad.mid", "-c", name, "-o", out)
        assert r.exit_code == 3, (args, r.output)
        assert "Traceback" not in r.output and "bad.mid" in r.output and not out.exists()
