"""Chords for cat-mel_2bar_med_chords: symbols read and reduced as note_seq reduces them, controls spread as
magenta.js spreads a chordProgression, steps as magenta's converter sees them, and chords written to MIDI."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest

from muse_cli.errors import InputError, UsageError
from muse_cli.families.chords import (
    CAT_MEL_2BAR_MED_CHORDS,
    CHORD_TRACK_NAME,
    CONTROL_DEPTH,
    NO_CHORD,
    chord_controls,
    chord_of_index,
    chord_part,
    chords_at_steps,
    decode_controls,
    parse_chord,
    parse_chords,
    read_chords,
    spread_chords,
    window_controls,
)
from muse_cli.midi import Part, parts_to_midi_bytes

NAMED = (
    "C Cm Cmaj7 C7 Cm7 Cdim Caug C+ C/E F#m Bb7 Ebmaj9 N.C. Cm7b5 Cdim7 C+7 C9 Cm9 C6 Cm6 C6/9 C11 C13 Cmaj13 "
    "CmM7 Cm(maj7) C-7 Co Co7 C/o7 C7b9 C7#9 C7#5 Cmaj7#5 Cadd9 C(add9) Cm(add11) C7(no5) Gb G## Abb Db/F "
    "Esus4 Dsus2 Csus Csus7 C7sus C5 Cped C7b5 C(no3) Cadd3 Cno7 Cb5 B#m Fb/Ab"
).split()
UNREADABLE = ("H7", "c", "Cx", "Cmaj", "Zm", "C/H", "Cm7b5b5b", "C7sus4x", "Cadd")


def _note_seq_class(symbol: str):
    """note_seq's class for a symbol, or the name of the error it raises."""
    from note_seq import chord_symbols_lib
    from note_seq.chords_encoder_decoder import ChordEncodingError, TriadChordOneHotEncoding

    try:
        return TriadChordOneHotEncoding().encode_event(symbol)
    except chord_symbols_lib.ChordSymbolError:
        return "unreadable"
    except ChordEncodingError:
        return "not a triad"


def _muse_class(symbol: str):
    try:
        return parse_chord(symbol).index
    except UsageError as err:
        return "unreadable" if "cannot read" in str(err) else "not a triad"


@pytest.mark.parametrize("symbol", NAMED + list(UNREADABLE))
def test_each_symbol_reduces_as_note_seq_reduces_it(symbol):
    assert _muse_class(symbol) == _note_seq_class(symbol)


def test_generated_symbols_reduce_as_note_seq_reduces_them():
    from note_seq.chord_symbols_lib import _CHORD_KINDS  # every kind note_seq knows, each spelling

    kinds = [a for abbrevs, _ in _CHORD_KINDS for a in abbrevs]
    mods = ["", "b5", "#5", "add9", "(b9)", "no3", "no5", "add2", "#11", "b13", "addb6", "(#9)(b5)", "add7"]
    roots = ["C", "Db", "D#", "Gb", "B", "Cb", "E#"]
    cases = [r + k + m + b for r, k, m, b in itertools.product(roots, kinds, mods, ["", "/G", "/Bb"])]
    assert len(cases) > 7000
    differ = [s for s in cases if _muse_class(s) != _note_seq_class(s)]
    assert differ == []
    assert {_muse_class(s) for s in cases} >= {"unreadable", "not a triad", 0 + 1, 12 + 1, 24 + 1, 36 + 1}


def test_chord_reads_root_kind_and_triad():
    am, bb7, fsdim, ebmaj9, caug = parse_chords("Am Bb7 F#dim Ebmaj9 C+")
    assert (am.root, am.kind, am.pitch_classes) == (9, "min", (9, 0, 4))
    assert (bb7.root, bb7.kind, bb7.pitch_classes) == (10, "maj", (10, 2, 5))
    assert (fsdim.kind, fsdim.pitch_classes) == ("dim", (6, 9, 0))
    assert (ebmaj9.root, ebmaj9.kind) == (3, "maj")
    assert (caug.kind, caug.pitch_classes) == ("aug", (0, 4, 8))


def test_progressions_split_on_spaces_and_commas():
    want = ("C", "G", "Am", "F")
    for text in ("C G Am F", "C,G,Am,F", " C, G,  Am ,F \n"):
        assert tuple(c.symbol for c in parse_chords(text)) == want
    assert [c.symbol for c in parse_chords("C N.C. nc G")] == ["C", NO_CHORD, NO_CHORD, "G"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("C H7 G", "--chords: cannot read chord 'H7'; write chords like \"C G Am F\""),
        ("", '--chords is empty; write chords like "C G Am F"'),
        (" , ", '--chords is empty; write chords like "C G Am F"'),
        ("C Csus4", "--chords: chord 'Csus4' has no major, minor, augmented or diminished triad"),
    ],
)
def test_bad_progressions_are_one_line_usage_errors(text, message):
    with pytest.raises(UsageError) as err:
        parse_chords(text)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    assert err.value.exit_code == 2


def test_controls_spread_as_magenta_js_and_encode_as_note_seq():
    from note_seq.chords_encoder_decoder import TriadChordOneHotEncoding

    enc = TriadChordOneHotEncoding()
    for text, steps in [("C G Am F", 32), ("C G Am", 32), ("Cm7b5 F7 Bbmaj7 Ebmaj7 Am7b5 D7 Gm N.C. C+", 32)]:
        symbols = text.split()
        controls = chord_controls(parse_chords(text), steps)
        assert controls.shape == (steps, CONTROL_DEPTH) and controls.dtype == np.float32
        # magenta.js ChordEncoder.encodeProgression: step t takes chord floor(t * n / numSteps)
        want = [enc.encode_event(symbols[(t * len(symbols)) // steps]) for t in range(steps)]
        assert controls.argmax(1).tolist() == want and (controls.sum(1) == 1).all()
    assert chord_controls(["C", "G", "Am", "F"]).argmax(1).tolist() == [1] * 8 + [8] * 8 + [22] * 8 + [6] * 8


def test_more_chords_than_steps_is_refused_and_a_chord_a_step_is_kept():
    symbols = ["C", "Dm", "Em", "F"] * 8
    assert [c.symbol for c in spread_chords(symbols, 32)] == symbols
    with pytest.raises(UsageError, match="33 chords do not fit in 32 steps"):
        chord_controls(symbols + ["G"], 32)


def test_a_longer_piece_spreads_the_progression_over_it_window_by_window():
    windows = window_controls(parse_chords("C G Am F"), 64)
    assert len(windows) == 2 and all(w.shape == (32, CONTROL_DEPTH) for w in windows)
    assert windows[0].argmax(1).tolist() == [1] * 16 + [8] * 16  # a chord a bar
    assert windows[1].argmax(1).tolist() == [22] * 16 + [6] * 16
    partial = window_controls(["C", "G"], 40)  # 2.5 bars: the last window holds G to its end
    assert [w.argmax(1).tolist() for w in partial] == [[1] * 20 + [8] * 12, [8] * 32]
    assert window_controls(["Am"], 32)[0].argmax(1).tolist() == [22] * 32


def test_decoded_controls_name_the_chords_as_note_seq_does():
    from note_seq.chords_encoder_decoder import TriadChordOneHotEncoding

    enc = TriadChordOneHotEncoding()
    assert [chord_of_index(i).symbol for i in range(CONTROL_DEPTH)] == [enc.decode_event(i) for i in range(49)]
    assert [parse_chord(chord_of_index(i).symbol).index for i in range(CONTROL_DEPTH)] == list(range(49))
    assert [c.symbol for c in decode_controls(chord_controls(["Bb7", "N.C."], 4))] == ["Bb", "Bb", "N.C.", "N.C."]


def test_steps_see_the_chords_magentas_converter_sees():
    import note_seq
    from magenta.models.music_vae import data

    converter = data.OneHotMelodyConverter(
        max_bars=100, slice_bars=2, steps_per_quarter=4, chord_encoding=note_seq.TriadChordOneHotEncoding()
    )
    ns = note_seq.NoteSequence(ticks_per_quarter=220, total_time=4.0)
    ns.tempos.add(qpm=120)
    ns.time_signatures.add(numerator=4, denominator=4)
    for i in range(8):
        ns.notes.add(pitch=60 + i, start_time=i * 0.5, end_time=i * 0.5 + 0.4, velocity=80)
    changes = [(0, "C"), (8, "Am7"), (18, "N.C."), (24, "Bbdim"), (28, "E+")]
    for step, symbol in changes:
        ns.text_annotations.add(
            time=step * 0.125, text=symbol, annotation_type=note_seq.NoteSequence.TextAnnotation.CHORD_SYMBOL
        )
    (want,) = converter.to_tensors(ns).controls
    got = chords_at_steps([(s, parse_chord(c)) for s, c in changes], 32)
    assert np.array_equal(np.array([c.index for c in got]), want.argmax(1))
    assert [c.symbol for c in chords_at_steps([(4, parse_chord("G"))], 3, start_step=2)] == ["N.C.", "N.C.", "G"]


def _read_back(data: bytes):
    import pretty_midi

    return pretty_midi.PrettyMIDI(io.BytesIO(data))


@pytest.mark.parametrize("qpm", [120.0, 93.0])
def test_written_chords_sound_and_show_as_markers(qpm):
    chords = parse_chords("C Am7 N.C. F#dim Ebmaj9")
    melody = Part([(72, 0, 8), (74, 8, 32)])
    data = parts_to_midi_bytes([melody, chord_part(chords, 40)], qpm)  # 8 steps a chord
    pm = _read_back(data)
    track = next(i for i in pm.instruments if i.name == CHORD_TRACK_NAME)
    step = 60.0 / qpm / 4
    spans = {}
    for note in track.notes:
        spans.setdefault((round(note.start / step), round(note.end / step)), []).append(note.pitch)
    assert sorted(spans) == [(0, 8), (8, 16), (24, 32), (32, 40)]  # nothing during N.C.
    for (start, _), chord in zip(sorted(spans), [chords[0], chords[1], chords[3], chords[4]]):
        pitches = sorted(spans[(start, start + 8)])
        assert sorted(p % 12 for p in pitches) == sorted(chord.pitch_classes) and len(pitches) == 3
        assert 53 <= min(pitches) and max(pitches) <= 76  # around middle C
    assert all(n.velocity < 90 for n in track.notes) and track.program == 0 and not track.is_drum
    for symbol in ("C", "Am7", "N.C.", "F#dim", "Ebmaj9"):
        assert b"\xff\x06" + bytes([len(symbol)]) + symbol.encode() in data
    assert [(s, c.symbol) for s, c in read_chords(data, "t.mid")] == [
        (0, "C"),
        (8, "Am7"),
        (16, "N.C."),
        (24, "F#dim"),
        (32, "Ebmaj9"),
    ]


def test_a_chord_repeated_is_held_with_one_marker_and_parts_can_start_later():
    part = chord_part(["G", "G", "Em", "Em"], 32, start_step=32)
    assert part.texts == ((32, "G"), (48, "Em"))
    assert sorted(part.notes) == [(55, 32, 48), (59, 32, 48), (62, 32, 48), (64, 48, 64), (67, 48, 64), (71, 48, 64)]


def test_files_without_muse_chords_give_none_and_bad_markers_are_named():
    plain = parts_to_midi_bytes([Part([(60, 0, 16)], texts=((0, "C"),))])  # a marker, but not muse's chord track
    assert read_chords(plain, "plain.mid") == ()
    bad = parts_to_midi_bytes([Part([], name=CHORD_TRACK_NAME, texts=((0, "C"), (16, "Csus4")))])
    with pytest.raises(InputError, match=r"bad.mid: chord marker 'Csus4' at step 16 is not a triad"):
        read_chords(bad, "bad.mid")
    with pytest.raises(InputError, match="not a readable MIDI file"):
        read_chords(b"MThd\x00\x00", "broken.mid")


def test_a_file_muse_wrote_with_chords_reads_back_its_melody_and_its_chords():
    from muse_cli.midi import read_melody

    melody = [(72, 0, 8), (74, 8, 16), (76, 16, 32)]  # fewer notes than the chord track's 12
    data = parts_to_midi_bytes([Part(melody), chord_part(parse_chords("C G Am F"), 32)], 100.0)
    read = read_melody(data, "t.mid")
    assert read.notes == melody and read.remarks == ()
    assert [(s, c.symbol) for s, c in read_chords(data, "t.mid")] == [(0, "C"), (8, "G"), (16, "Am"), (24, "F")]


def test_codec_windows_are_what_magentas_converter_makes_of_the_same_file():
    import note_seq
    from magenta.models.music_vae import configs

    melody = [(60, 0, 4), (64, 4, 6), (67, 8, 16), (72, 16, 20), (71, 20, 30)]
    chords = parse_chords("C Em7 Am F/A")
    data = parts_to_midi_bytes([Part(melody), chord_part(chords, 32)], 120.0)
    codec = CAT_MEL_2BAR_MED_CHORDS
    song = codec.read(data, "t.mid")
    ((bar, inputs, controls),) = codec.to_windows(song)
    ns = note_seq.midi_to_note_sequence(parts_to_midi_bytes([Part(melody)], 120.0))
    for step, chord in read_chords(data, "t.mid"):
        ns.text_annotations.add(
            time=step * 0.125, text=chord.symbol, annotation_type=note_seq.NoteSequence.TextAnnotation.CHORD_SYMBOL
        )
    want = configs.CONFIG_MAP[codec.config].data_converter.to_tensors(ns)
    assert bar == 0 and np.array_equal(inputs, want.inputs[0]) and np.array_equal(controls, want.controls[0])
    assert inputs.shape == (codec.STEPS, codec.INPUT_DEPTH) and controls.shape == (codec.STEPS, codec.CONTROL_DEPTH)


def test_codec_parts_give_back_the_melody_and_the_chords_as_written():
    codec = CAT_MEL_2BAR_MED_CHORDS
    melody = [(60, 0, 8), (62, 8, 16), (64, 16, 32), (67, 32, 48), (65, 48, 64)]
    song = codec.read(parts_to_midi_bytes([Part(melody)]), "m.mid")
    with pytest.raises(UsageError, match="m.mid has no chords muse wrote; give them with --chords"):
        codec.to_windows(song)
    song = song.with_chords(parse_chords("Cmaj7 Dm7 G7 C"))  # a chord a bar over 4 bars
    (_, in0, c0), (bar1, in1, c1) = codec.to_windows(song)
    assert bar1 == 2 and c1.argmax(1).tolist() == [8] * 16 + [1] * 16
    melody_part, chord_track = codec.to_parts(in1, start_step=32, controls=c1, chords=song.chords[32:])
    assert melody_part.notes == [(67, 32, 48), (65, 48, 64)]
    assert chord_track.name == CHORD_TRACK_NAME and chord_track.texts == ((32, "G7"), (48, "C"))
    assert codec.to_parts(in0, controls=c0)[1].texts == ((0, "C"), (16, "Dm"))  # spelled from the classes
    assert len(codec.to_parts(in0)) == 1
