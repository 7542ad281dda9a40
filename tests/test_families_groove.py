"""The GrooVAE codec against magenta's own GrooveConverter, on real MIDI files written here with pretty_midi:
a swung, loud-and-soft, off-the-grid groove with an empty bar; taps on a piano; the drum track muse writes."""

from __future__ import annotations

import copy
import io

import mido
import numpy as np
import pretty_midi
import pytest

from muse_cli.errors import InputError
from muse_cli.families import groove
from muse_cli.midi import parts_to_midi_bytes

QPM = 97.0
STEP_S = 60.0 / QPM / 4
CONFIGS = sorted(groove.CODECS)


def _midi(tracks, qpm: float = QPM, meter: tuple | None = None) -> bytes:
    """A real MIDI file: tracks of (is_drum, program, [(pitch, start step (may be fractional), velocity)])."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=qpm)
    if meter:
        pm.time_signature_changes.append(pretty_midi.TimeSignature(*meter, 0.0))
    step_s = 60.0 / qpm / 4
    for is_drum, program, hits in tracks:
        inst = pretty_midi.Instrument(program, is_drum=is_drum)
        for pitch, step, velocity in hits:
            inst.notes.append(pretty_midi.Note(velocity, pitch, step * step_s, (step + 0.5) * step_s))
        pm.instruments.append(inst)
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def _swung_hits() -> list:
    """5 bars, the second empty: kick, snare (and a softer side stick on it), swung hi-hats, early and late
    16ths, a hit half a step late, toms, crash and ride, many velocities, two classes equally loud at a step."""
    hits = []
    for bar in (0, 2, 3, 4):
        b = bar * 16
        hits += [(36, b, 100), (36, b + 8, 90), (38, b + 4, 110), (37, b + 4, 60), (38, b + 12, 105)]
        hits += [(42, b + s + (0.33 if s % 4 == 2 else 0), 40 + 5 * s) for s in range(0, 16, 2)]  # swung 8ths
        hits += [(44, b + 3 - 0.4, 30), (46, b + 14 + 0.2, 80), (45, b + 10.5, 70), (43, b + 11 - 0.15, 65)]
    hits += [(49, 32, 120), (51, 49 - 0.3, 50), (50, 70 + 0.45, 77), (48, 75, 100), (42, 75.1, 100)]
    return hits


@pytest.fixture(scope="module")
def magenta():
    """magenta's own converter of a config at inference: (config, MIDI bytes, split) -> ConverterTensors."""
    import note_seq
    from magenta.models.music_vae import configs

    def to_tensors(config: str, data: bytes, split: bool = True):
        converter = copy.deepcopy(configs.CONFIG_MAP[config].data_converter)
        converter.set_mode("infer")
        if not split:
            converter._split_bars = None  # the whole performance in one tensor
        return converter.to_tensors(note_seq.midi_to_note_sequence(pretty_midi.PrettyMIDI(io.BytesIO(data))))

    def from_tensors(samples):
        converter = copy.deepcopy(configs.CONFIG_MAP["groovae_4bar"].data_converter)
        converter.set_mode("infer")
        return converter.from_tensors(samples)

    to_tensors.from_tensors = from_tensors
    return to_tensors


def _assert_windows_match(codec, windows, magenta_split, magenta_whole):
    """Our windows are magenta's (its whole ones) and, laid end to end, its whole performance then silence."""
    assert len(windows) >= len(magenta_split.inputs) >= len(windows) - 1
    for (_, inputs, controls), theirs in zip(windows, magenta_split.inputs):
        assert controls is None and inputs.dtype == np.float32
        np.testing.assert_array_equal(inputs, np.asarray(theirs, np.float32))
    assert [w[0] for w in windows] == list(range(0, codec.bars * len(windows), codec.bars))
    laid = np.concatenate([w[1] for w in windows])
    whole = np.asarray(magenta_whole.inputs[0], np.float32)
    np.testing.assert_array_equal(laid[: len(whole)], whole)
    assert not laid[len(whole) :].any()


@pytest.mark.parametrize("config", CONFIGS)
def test_windows_are_magentas_inputs(config, magenta):
    codec = groove.CODECS[config]
    data = _midi([(True, 0, _swung_hits())])
    windows = codec.to_windows(codec.read(data, "swung.mid"))
    assert {w[1].shape for w in windows} == {(codec.STEPS, codec.INPUT_DEPTH)} and codec.INPUT_DEPTH == 27
    assert len(windows) == {2: 3, 4: 2}[codec.bars]  # 5 bars: the last window padded with silence
    _assert_windows_match(codec, windows, magenta(config, data), magenta(config, data, split=False))
    inputs = np.concatenate([w[1] for w in windows])
    if codec.humanize:
        assert inputs[:, :9].sum() > 40 and not inputs[:, 9:].any()
    if codec.tapify:
        assert not np.delete(inputs, [3, 12, 21], axis=1).any() and not inputs[:, 12].any()
        assert inputs[:, 21].any()  # the taps keep their timing


def test_performance_is_magentas_outputs(magenta):
    data = _midi([(True, 0, _swung_hits())])
    song = groove.read_groove(data, "swung.mid")
    ours = groove.performance(song)
    np.testing.assert_array_equal(ours, np.asarray(magenta("groovae_4bar", data, split=False).outputs[0], np.float32))
    assert ours.shape == (80, 27) and not ours[16:32].any()  # the empty bar
    assert "kept the loudest" in " ".join(song.remarks)  # the side stick under the snare


def test_taps_on_any_instrument_are_magentas_tapped_drums(magenta):
    taps = [(60 + i % 5, s, v) for i, (s, v) in enumerate([(0, 90), (3.3, 60), (6, 100), (10.6, 70), (12.2, 110)])]
    taps += [(64, 20 - 0.4, 80), (62, 26, 50), (67, 33, 95)]
    codec = groove.GROOVAE_2BAR_TAP_FIXED_VELOCITY
    song = codec.read(_midi([(False, 25, taps)]), "taps.mid")
    assert "as taps" in " ".join(song.remarks)
    as_drums = _midi([(True, 0, [(groove.TAP_PITCH, s, v) for _, s, v in taps])])  # magenta's view of the taps
    windows = codec.to_windows(song)
    assert len(windows) == 2 and windows[0][1][:, 3].sum() == 7
    _assert_windows_match(codec, windows, magenta(codec.config, as_drums), magenta(codec.config, as_drums, False))


def _sampled_outputs(steps: int, seed: int) -> np.ndarray:
    """Decoder-like outputs: hits 0/1, sigmoid velocities, tanh offsets, float32."""
    rng = np.random.default_rng(seed)
    hits = (rng.random((steps, 9)) < 0.3).astype(np.float32)
    velocities = rng.uniform(0.02, 1.0, (steps, 9)).astype(np.float32)
    offsets = rng.uniform(-1.0, 1.0, (steps, 9)).astype(np.float32)
    return np.concatenate([hits, velocities, offsets], axis=1)


def _as_magenta(notes, velocities):
    """Our notes as magenta's from_tensors writes them: seconds at 120 qpm."""
    return [(p, s * 0.125, e * 0.125, v) for (p, s, e), v in zip(notes, velocities)]


def test_to_parts_is_magentas_from_tensors(magenta):
    swung = np.asarray(magenta("groovae_4bar", _midi([(True, 0, _swung_hits())])).outputs[0], np.float32)
    for outputs in (swung, _sampled_outputs(64, 1)):
        (part,) = groove.GROOVAE_4BAR.to_parts(outputs)
        assert part.drums and len(part.notes) == len(part.velocities) > 20
        (theirs,) = magenta.from_tensors([outputs])
        expected = [(n.pitch, n.start_time, n.end_time, n.velocity) for n in theirs.notes]
        ours = _as_magenta(part.notes, part.velocities)
        assert [(p, v) for p, _, _, v in ours] == [(p, v) for p, _, _, v in expected]
        np.testing.assert_allclose([o[1:3] for o in ours], [e[1:3] for e in expected], atol=1e-6)


def test_written_file_holds_the_hits_at_their_times_on_channel_10():
    outputs = _sampled_outputs(32, 2)
    parts = groove.GROOVAE_2BAR_HUMANIZE.to_parts(outputs, start_step=32)
    data = parts_to_midi_bytes(parts, qpm=QPM)
    pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    (inst,) = pm.instruments
    assert inst.is_drum and inst.name == groove.PART_NAME
    channels = {m.channel for t in mido.MidiFile(file=io.BytesIO(data)).tracks for m in t if m.type == "note_on"}
    assert channels == {9}
    got = sorted((n.pitch, n.start, n.velocity) for n in inst.notes)
    hits, velocities, offsets = outputs[:, :9], outputs[:, 9:18], outputs[:, 18:]
    want = sorted(
        (groove.PITCH_CLASSES[j][0], (32 + i - offsets[i, j] / 2) * STEP_S, int(np.round(velocities[i, j] * 127)))
        for i, j in zip(*np.nonzero(hits > 0.5))
    )
    assert len(got) == len(want) > 50
    assert [(g[0], g[2]) for g in got] == [(w[0], w[2]) for w in want]
    assert max(abs(g[1] - w[1]) for g, w in zip(got, want)) <= 60.0 / QPM / 480  # within a tick
    assert {w[0] for w in want} <= {36, 38, 42, 46, 45, 48, 50, 49, 51}


def test_a_performance_decodes_back_to_the_hits_it_was_read_from():
    hits = [(36, 0, 100), (38, 4.3, 64), (42, 6 - 0.45, 33), (51, 17.25, 127), (46, 30 + 0.1, 1)]
    song = groove.read_groove(_midi([(True, 0, hits)]), "kit.mid")
    (part,) = groove.GROOVAE_2BAR_HUMANIZE.to_parts(groove.performance(song))
    assert list(part.velocities) == [v for _, _, v in hits]
    assert [p for p, _, _ in part.notes] == [p for p, _, _ in hits]
    read_steps = [t * song.qpm / 15.0 for _, t, _ in song.hits]  # the times read (on the file's ticks), in steps
    np.testing.assert_allclose(read_steps, [s for _, s, _ in hits], atol=1 / 55)  # pretty_midi wrote 55 ticks a step
    np.testing.assert_allclose([s for _, s, _ in part.notes], read_steps, atol=1e-5)


def test_reading_refuses_files_without_usable_hits(data_dir):
    humanize, tap = groove.GROOVAE_2BAR_HUMANIZE, groove.GROOVAE_2BAR_TAP_FIXED_VELOCITY
    piano = _midi([(False, 0, [(60, 0, 80), (62, 4, 80)])])
    cases = [
        (humanize, (data_dir / "empty.mid").read_bytes(), "empty.mid", "has no notes"),
        (humanize, piano, "piano.mid", "no drum notes"),
        (tap, _midi([(True, 0, [(21, 0, 80), (90, 4, 80)])]), "odd.mid", "pitches 21, 90"),
        (tap, _midi([(True, 0, [(36, 0, 80)])], meter=(3, 4)), "waltz.mid", "3/4"),
        (humanize, b"not midi", "bad.mid", "not a MIDI file"),
    ]
    for codec, data, name, why in cases:
        with pytest.raises(InputError) as err:
            codec.read(data, name)
        message = str(err.value)
        assert name in message and why in message and "\n" not in message
    assert len(tap.to_windows(tap.read(piano, "piano.mid"))) == 1
    both = humanize.read(_midi([(False, 0, [(60, 0, 80)]), (True, 0, [(36, 0, 80)])]), "band.mid")
    assert [h[0] for h in both.hits] == [36] and "left out 1 pitched track" in both.remarks[0]


def test_unknown_drums_and_tempo_changes_are_remarked():
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(QPM), time=0)])
    for tick, pitch in ((0, 36), (480, 21), (1920, None), (4320, 38)):  # 150 qpm from bar 2 (tick 1920)
        last = sum(m.time for m in track)
        if pitch is None:
            track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(150), time=tick - last))
            continue
        track.append(mido.Message("note_on", channel=9, note=pitch, velocity=80, time=tick - last))
        track.append(mido.Message("note_off", channel=9, note=pitch, velocity=0, time=60))
    buf = io.BytesIO()
    mido.MidiFile(tracks=[track], ticks_per_beat=480).save(file=buf)
    song = groove.read_groove(buf.getvalue(), "tempo.mid")
    said = " ".join(song.remarks)
    assert "pitch(es) 21" in said and "first tempo (97 qpm)" in said
    assert [(p, round(t / STEP_S, 3)) for p, t, _ in song.hits] == [(36, 0), (38, 36)]  # times at the first tempo
