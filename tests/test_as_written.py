"""The input as written (issue 19, item 4): commands that read a MIDI file keep its first tempo, its program and
its velocities, and say on stderr what reading it left out (other tracks, chords, notes out of range, tempo
changes)."""

from __future__ import annotations

import io

import pretty_midi
import pytest
from conftest import run_muse

STEP = 1e-3


def _tune(path, qpm=100.0, program=40, velocity=70, chords=False, extra_track=False, tempo_change=False):
    """Two bars of a C-major line at ``qpm`` (a real file written by pretty_midi)."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=qpm)
    inst = pretty_midi.Instrument(program=program)
    beat = 60.0 / qpm
    pitches = [60, 62, 64, 65, 67, 65, 64, 62] * 2
    for k, p in enumerate(pitches):
        inst.notes.append(
            pretty_midi.Note(velocity=velocity + (k % 3), pitch=p, start=k * beat / 2, end=(k + 1) * beat / 2)
        )
        if chords and k % 4 == 0:
            inst.notes.append(
                pretty_midi.Note(velocity=velocity, pitch=p - 12, start=k * beat / 2, end=(k + 1) * beat / 2)
            )
    pm.instruments.append(inst)
    if extra_track:
        bass = pretty_midi.Instrument(program=33)
        bass.notes.append(pretty_midi.Note(velocity=60, pitch=36, start=0.0, end=beat))
        pm.instruments.append(bass)
    if tempo_change:
        pm._tick_scales.append((pm.time_to_tick(2 * beat), 60.0 / (140.0 * pm.resolution)))
        pm._update_tick_to_time(pm.time_to_tick(pm.get_end_time()) + 1)
    pm.write(str(path))
    return path


def _read(path):
    return pretty_midi.PrettyMIDI(io.BytesIO(path.read_bytes()))


@pytest.mark.parametrize("command", ["continue", "vary", "decode"])
def test_tempo_program_and_velocity_of_the_input_are_kept(tmp_path, command):
    src = _tune(tmp_path / "tune.mid")
    out = tmp_path / "out.mid"
    args = {
        "continue": ["continue", src, "--seconds", "4.8", "--seed", "1"],
        "vary": ["vary", src, "-n", "1", "--seed", "1"],
        "decode": ["decode", "--midi", src, "--seed", "1"],
    }[command]
    p = run_muse(*args, "-o", out)
    assert p.returncode == 0, p.stderr.decode()
    pm = _read(out)
    assert pm.get_tempo_changes()[1][0] == pytest.approx(100.0, abs=0.01)
    assert [i.program for i in pm.instruments] == [40]
    vel = [n.velocity for n in pm.instruments[0].notes]
    assert set(vel) <= {70, 71, 72}
    if command == "continue":  # the input first, exactly: its notes, times and velocities
        src_notes = _read(src).instruments[0].notes
        got = pm.instruments[0].notes[: len(src_notes)]
        assert [(n.pitch, n.velocity) for n in got] == [(n.pitch, n.velocity) for n in src_notes]
        assert all(abs(a.start - b.start) <= STEP for a, b in zip(got, src_notes))
        assert pm.get_end_time() == pytest.approx(2 * 4 * 60 / 100 + 4.8, abs=STEP)


def test_qpm_given_wins_over_the_inputs_tempo(tmp_path):
    src = _tune(tmp_path / "tune.mid")
    p = run_muse("vary", src, "-n", "1", "--seed", "1", "--qpm", "150", "-o", tmp_path / "v.mid")
    assert p.returncode == 0, p.stderr.decode()
    assert _read(tmp_path / "v.mid").get_tempo_changes()[1][0] == pytest.approx(150.0, abs=0.01)


def test_what_reading_left_out_is_said_on_stderr(tmp_path):
    src = _tune(tmp_path / "busy.mid", chords=True, extra_track=True, tempo_change=True)
    p = run_muse("vary", src, "-n", "1", "--seed", "1", "-o", tmp_path / "v.mid")
    assert p.returncode == 0, p.stderr.decode()
    err = p.stderr.decode()
    assert "kept the highest note of 4 chord(s)" in err
    assert "took the pitched track with the most notes (program 40); 1 other(s) left out" in err
    assert "kept the first tempo (100 qpm); 1 later tempo change(s) are not kept" in err


def test_a_plain_input_gets_no_remarks(tmp_path):
    src = _tune(tmp_path / "plain.mid")
    p = run_muse("vary", src, "-n", "1", "--seed", "1", "-o", tmp_path / "v.mid")
    assert p.returncode == 0 and "kept" not in p.stderr.decode() and "left out" not in p.stderr.decode()


def test_batch_keeps_the_inputs_tempo_as_the_commands_do(tmp_path):
    """vary and continue job lines without "qpm" write the commands' bytes (the input's 100 qpm), and verify
    on a rerun."""
    import json

    src = _tune(tmp_path / "tune.mid")
    jobs = tmp_path / "jobs.jsonl"
    lines = [
        {"op": "vary", "midi": str(src), "seed": 3, "out": "v.mid"},
        {"op": "continue", "midi": str(src), "seed": 4, "seconds": 4.8, "out": "c.mid"},
    ]
    jobs.write_text("".join(json.dumps(x) + "\n" for x in lines))
    p = run_muse("batch", jobs, "--workers", "1", cwd=tmp_path, timeout=600)
    assert p.returncode == 0, p.stderr.decode()
    assert run_muse("vary", src, "-n", "1", "--seed", "3", "-o", tmp_path / "cv.mid").returncode == 0
    assert run_muse("continue", src, "--seconds", "4.8", "--seed", "4", "-o", tmp_path / "cc.mid").returncode == 0
    assert (tmp_path / "v.mid").read_bytes() == (tmp_path / "cv.mid").read_bytes()
    assert (tmp_path / "c.mid").read_bytes() == (tmp_path / "cc.mid").read_bytes()
    assert _read(tmp_path / "c.mid").get_tempo_changes()[1][0] == pytest.approx(100.0, abs=0.01)
    (tmp_path / "jobs.manifest.jsonl").unlink()
    again = run_muse("batch", jobs, "--workers", "1", cwd=tmp_path, timeout=600)
    assert again.returncode == 0 and "2 skipped" in again.stderr.decode(), again.stderr.decode()
