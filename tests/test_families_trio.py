"""The 16-bar codecs against magenta's own converters on real MIDI files: hierdec-trio_16bar (TrioConverter:
melody 90 + bass 90 + drums 512 one-hots a step) and hierdec-mel_16bar (OneHotMelodyConverter, 16-bar slices);
the parts their outputs become (melody program 0, bass 33, drums on channel 10) read back with pretty_midi."""

from __future__ import annotations

import io

import numpy as np
import pretty_midi
import pytest
from conftest import DATA

from muse_cli.errors import InputError
from muse_cli.families import trio
from muse_cli.midi import parts_to_midi_bytes

STEP = 0.125  # seconds per 16th at 120 qpm
BARS = 20


def _track(program, notes, drum=False):
    inst = pretty_midi.Instrument(program, is_drum=drum)
    inst.notes = [pretty_midi.Note(100, p, s * STEP, e * STEP) for p, s, e in notes]
    return inst


def _trio_midi(bars=BARS, extra=()) -> bytes:
    """A real trio: a melody with a chord on each bar's beat 3 (its top note counts) and a rest, a bass of half
    notes, a kick/snare/hat beat with a crash each 4 bars; ``extra`` tracks after them."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    melody, bass, drums = [], [], []
    for b in range(bars):
        s = b * 16
        melody += [(60 + b % 12, s, s + 4), (64, s + 4, s + 6), (67, s + 8, s + 12), (72 - b % 5, s + 8, s + 10)]
        bass += [(36 + b % 7, s, s + 8), (43, s + 8, s + 15)]
        drums += [(36, s, s + 1), (38, s + 4, s + 5), (36, s + 8, s + 9), (38, s + 12, s + 13)]
        drums += [(42, s + k, s + k + 1) for k in range(0, 16, 2)] + ([(49, s, s + 1)] if b % 4 == 0 else [])
    pm.instruments = [_track(0, melody), _track(33, bass), _track(0, drums, drum=True), *extra]
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def _magenta_trio(data: bytes):
    import note_seq
    from magenta.models.music_vae import data as mdata

    converter = mdata.TrioConverter(steps_per_quarter=4, slice_bars=16, gap_bars=2, max_tensors_per_notesequence=None)
    return converter, converter.to_tensors(note_seq.midi_to_note_sequence(data))


def test_trio_windows_are_magentas_tensors():
    converter, tensors = _magenta_trio(_trio_midi())
    codec = trio.TRIO_16BAR
    assert (codec.STEPS, codec.INPUT_DEPTH, codec.OUTPUT_DEPTH) == (256, converter.input_depth, converter.output_depth)
    assert (converter.input_depth, codec.CONTROL_DEPTH) == (692, converter.control_depth)
    windows = codec.to_windows(codec.read(_trio_midi(), "trio.mid"))
    assert [(bar, x.shape, x.dtype, c) for bar, x, c in windows] == [(b, (256, 692), np.float32, None) for b in (0, 16)]
    assert len(tensors.inputs) == BARS - 16 + 1  # magenta's slices start at every bar
    np.testing.assert_array_equal(windows[0][1], tensors.inputs[0].astype(np.float32))
    np.testing.assert_array_equal(windows[0][1], tensors.outputs[0].astype(np.float32))
    last = tensors.inputs[BARS - 16].astype(np.float32)  # bars 5-20: its last 4 bars are muse's bars 17-20
    np.testing.assert_array_equal(windows[1][1][:64], last[-64:])
    rest = windows[1][1][64:]  # after the song: rests (class 0) and no drums (class 180 + 0)
    assert rest[:, [0, 90, 180]].all() and rest.sum() == 3 * 192


def test_trio_parts_are_magentas_notes_program_0_33_and_channel_10():
    converter, tensors = _magenta_trio(_trio_midi())
    outputs = tensors.outputs[0]
    ns = converter.from_tensors([outputs])[0]

    def kind(n):
        return "drums" if n.is_drum else ("bass" if n.program == 33 else "melody")

    expected = sorted((kind(n), n.pitch, round(n.start_time / STEP), round(n.end_time / STEP)) for n in ns.notes)
    parts = trio.TRIO_16BAR.to_parts(outputs.astype(np.float32))
    pm = pretty_midi.PrettyMIDI(io.BytesIO(parts_to_midi_bytes(parts)))
    assert [(i.program, i.is_drum, i.name) for i in pm.instruments] == [
        (0, False, "muse melody"),
        (33, False, "muse bass"),
        (0, True, "muse drums"),
    ]
    names = ("melody", "bass", "drums")
    got = sorted(
        (name, n.pitch, round(n.start / STEP), round(n.end / STEP))
        for name, i in zip(names, pm.instruments)
        for n in i.notes
    )
    assert got == expected
    melody = sorted((n for n in got if n[0] == "melody"), key=lambda n: n[2])
    assert [n[1:] for n in melody[:6]] == [
        (60, 0, 4),
        (64, 4, 6),
        (72, 8, 10),
        (61, 16, 20),
        (64, 20, 22),
        (71, 24, 26),
    ]
    assert sum(1 for n in got if n[0] == "drums" and n[1] == 49) == 4  # the crash every 4 bars


def test_trio_parts_are_placed_at_start_step():
    x = trio.TRIO_16BAR.encode(trio.read_trio(_trio_midi(), "trio.mid"))
    parts = trio.TRIO_16BAR.to_parts(x[:16], start_step=256)
    assert parts[0].notes[0] == (60, 256, 260) and parts[1].notes[0] == (36, 256, 264)
    assert parts[2].notes[:3] == [(36, 256, 257), (42, 256, 257), (49, 256, 257)] and parts[2].drums


def test_trio_reading_takes_the_busiest_track_of_each_kind():
    piano = _track(5, [(80, 0, 4)])  # a second melody track (program 5), one note: left out
    song = trio.read_trio(_trio_midi(extra=[piano]), "trio.mid")
    assert song.melody[0] == (60, 0, 4) and song.bass[0] == (36, 0, 8) and song.total_steps == BARS * 16 - 1
    assert song.remarks == ("took the melody track with the most notes; 1 other(s) left out",)
    assert song.drums.hits[:3] == ((0, 36), (0, 42), (0, 49))


def test_a_file_without_bass_is_a_one_line_input_error():
    with pytest.raises(InputError) as err:
        trio.read_trio((DATA / "folk_16bar.mid").read_bytes(), "folk.mid")
    message = str(err.value)
    assert message.startswith("folk.mid has no bass (program 32-39) and no drum (MIDI channel 10) track")
    assert "\n" not in message


def test_mel_16bar_windows_are_magentas_slices_and_parts_its_notes():
    import note_seq
    from magenta.models.music_vae import data as mdata

    data = (DATA / "folk_16bar.mid").read_bytes()
    converter = mdata.OneHotMelodyConverter(skip_polyphony=False, max_bars=100, slice_bars=16, steps_per_quarter=4)
    tensors = converter.to_tensors(note_seq.midi_to_note_sequence(data))
    codec = trio.MEL_16BAR
    assert (codec.STEPS, codec.INPUT_DEPTH, codec.OUTPUT_DEPTH) == (256, converter.input_depth, converter.output_depth)
    (window,) = codec.to_windows(codec.read(data, "folk_16bar.mid"))
    assert window[0] == 0 and window[2] is None
    (expected,) = tensors.inputs
    np.testing.assert_array_equal(window[1], expected.astype(np.float32))
    ns = converter.from_tensors([expected])[0]
    (part,) = codec.to_parts(window[1], start_step=0)
    pm = pretty_midi.PrettyMIDI(io.BytesIO(parts_to_midi_bytes([part])))
    got = [(n.pitch, round(n.start / STEP), round(n.end / STEP)) for n in pm.instruments[0].notes]
    assert got == [(n.pitch, round(n.start_time / STEP), round(n.end_time / STEP)) for n in ns.notes]
    assert len(got) == 78 and pm.instruments[0].program == 0


def test_the_codecs_import_no_heavy_library():
    import subprocess
    import sys

    code = (
        "import sys, muse_cli.families.drums, muse_cli.families.trio, muse_cli.drum_grid\n"
        "heavy = {'tensorflow', 'magenta', 'note_seq', 'matplotlib'} & {m.split('.')[0] for m in sys.modules}\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
