"""The drum codecs against magenta's own DrumsConverter, on real MIDI files written with pretty_midi: the tensors
of cat-drums_2bar_small (9 classes, roll input, one-hot output over 512) and nade-drums_2bar_full (61 classes,
roll in and out), and the drum tracks their outputs become (channel 10, magenta's pitches, one step long)."""

from __future__ import annotations

import io

import numpy as np
import pretty_midi
import pytest

from muse_cli.errors import InputError
from muse_cli.families import drums
from muse_cli.midi import parts_to_midi_bytes

STEP = 0.125  # seconds per 16th at 120 qpm
CODECS = [drums.CAT_DRUMS_2BAR_SMALL, drums.NADE_DRUMS_2BAR_FULL]


def _midi(hits, extra_drum_tracks=(), pitched=(), qpm=120.0) -> bytes:
    """A real MIDI file: drum hits (pitch, step) on channel 10, more drum tracks, pitched notes (pitch, step)."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=qpm)
    step = 60.0 / qpm / 4
    for track in (hits, *extra_drum_tracks):
        inst = pretty_midi.Instrument(0, is_drum=True)
        inst.notes = [pretty_midi.Note(100, p, s * step, (s + 1) * step) for p, s in track]
        pm.instruments.append(inst)
    if pitched:
        inst = pretty_midi.Instrument(0)
        inst.notes = [pretty_midi.Note(90, p, s * step, (s + 2) * step) for p, s in pitched]
        pm.instruments.append(inst)
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


# Bars 1-2: a rock beat; bar 3: empty; bar 4: every class at its first step (and 21, in no table, later);
# bars 5-8: each pitch of the 9 classes alone, one a step (63 pitches, up to step 126).
ROCK = [(36, s) for s in (0, 8, 16, 24)] + [(38, s) for s in (4, 12, 20, 28)] + [(42, s) for s in range(0, 32, 2)]
ALL_AT_ONCE = [(c[0], 48) for c in drums.REDUCED_DRUM_PITCH_CLASSES] + [(21, 56)]
EACH = [(p, 64 + k) for k, p in enumerate(p for c in drums.REDUCED_DRUM_PITCH_CLASSES for p in c)]
SONG = _midi(ROCK + ALL_AT_ONCE + EACH)


def _magenta(codec, data: bytes, **kwargs):
    """magenta's DrumsConverter of this codec (roll input, its classes and output) on the file."""
    import note_seq
    from magenta.models.music_vae import data as mdata

    converter = mdata.DrumsConverter(
        pitch_classes=[list(c) for c in codec.pitch_classes],
        roll_input=codec.roll_input,
        roll_output=codec.roll_output,
        steps_per_quarter=4,
        **kwargs,
    )
    return converter, converter.to_tensors(note_seq.midi_to_note_sequence(data))


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.config)
def test_windows_are_magentas_tensors_of_the_whole_track(codec):
    converter, tensors = _magenta(
        codec, SONG, gap_bars=None, pad_to_total_time=True, presplit_on_time_changes=False,
        max_tensors_per_notesequence=None,
    )  # fmt: skip
    assert (codec.INPUT_DEPTH, codec.OUTPUT_DEPTH) == (converter.input_depth, converter.output_depth)
    assert (codec.INPUT_DEPTH, codec.OUTPUT_DEPTH) == ((10, 512) if codec.OUTPUT_DEPTH == 512 else (62, 61))
    song = codec.read(SONG, "song.mid")
    windows = codec.to_windows(song)
    assert [(bar, x.shape, x.dtype, c) for bar, x, c in windows] == [
        (b, (32, codec.INPUT_DEPTH), np.float32, None) for b in (0, 2, 4, 6)
    ]
    (expected,) = tensors.inputs
    ours = np.concatenate([x for _, x, _ in windows])
    assert len(expected) == song.total_steps == 127  # magenta pads to the song's end, muse to whole windows
    np.testing.assert_array_equal(ours[: len(expected)], expected.astype(np.float32))
    assert ours[len(expected) :, -1].all() and not ours[len(expected) :, :-1].any()  # the padding: nothing hit
    assert ours[32:48, -1].all()  # the empty bar 3: the NOR bit at every step
    events = drums.drum_events(song, codec.pitch_classes, 0, len(expected))
    np.testing.assert_array_equal(codec.encode(events, output=True), tensors.outputs[0].astype(np.float32))


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.config)
def test_windows_are_among_the_config_converters_slices(codec):
    """magenta's config converter (2-bar slices a bar apart, tracks split at an empty bar) holds muse's windows,
    all but the one with the empty bar."""
    _, tensors = _magenta(codec, SONG, max_bars=100, slice_bars=2, max_tensors_per_notesequence=None)
    slices = {x.astype(np.float32).tobytes() for x in tensors.inputs}
    assert len(slices) == 5  # bars 1-2, then 4-5, 5-6, 6-7, 7-8
    ours = [x.tobytes() in slices for _, x, _ in codec.to_windows(codec.read(SONG, "song.mid"))]
    assert ours == [True, False, True, True]


def test_every_class_is_hit_in_bar_4_and_pitches_outside_a_table_are_left_out():
    codec = drums.CAT_DRUMS_2BAR_SMALL
    windows = codec.to_windows(codec.read(SONG, "song.mid"))
    bar3 = windows[1][1]  # bars 3-4
    assert not bar3[:16, :9].any() and bar3[16, :9].tolist() == [1] * 9 and bar3[16, 9] == 0
    assert bar3[17:, :9].sum() == 0  # 21 (step 56) is in no class
    events = drums.drum_events(codec.read(SONG, "song.mid"), codec.pitch_classes, 48, 1)
    assert events == [frozenset(range(9))] and codec.encode(events, output=True)[0].argmax() == 511
    each = np.concatenate([x for _, x, _ in windows])[64:127, :9]
    classes = drums.class_map(drums.REDUCED_DRUM_PITCH_CLASSES)
    assert each.argmax(axis=1).tolist() == [classes[p] for p, _ in EACH] and each.sum() == 63
    full = drums.NADE_DRUMS_2BAR_FULL.to_windows(drums.read_drums(SONG, "song.mid"))
    assert sum(x[:, :61].sum() for _, x, _ in full) == len(ROCK) + 9 + 61  # 22 and 26 are not General MIDI


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.config)
def test_parts_are_magentas_notes_on_channel_10(codec):
    converter, tensors = _magenta(
        codec, SONG, gap_bars=None, pad_to_total_time=True, presplit_on_time_changes=False,
        max_tensors_per_notesequence=None,
    )  # fmt: skip
    outputs = tensors.outputs[0][:64]
    expected = sorted((n.pitch, round(n.start_time / STEP), round(n.end_time / STEP), n.velocity, n.is_drum)
                      for n in converter.from_tensors([outputs])[0].notes)  # fmt: skip
    (part,) = codec.to_parts(outputs.astype(np.float32), start_step=32)
    assert part.drums
    pm = pretty_midi.PrettyMIDI(io.BytesIO(parts_to_midi_bytes([part])))
    (inst,) = pm.instruments
    assert inst.is_drum
    got = sorted((n.pitch, round(n.start / STEP) - 32, round(n.end / STEP) - 32, n.velocity, True) for n in inst.notes)
    assert got == expected and len(got) == len(ROCK) + 9
    first = {c[0] for c in codec.pitch_classes}
    assert {n.pitch for n in inst.notes} <= first and all(e - s == 1 for _, s, e, _, _ in got)


def test_channel_10_in_the_written_file():
    (part,) = drums.CAT_DRUMS_2BAR_SMALL.to_parts(drums.one_hot([frozenset({0, 1})] + [frozenset()] * 31, 9))
    data = parts_to_midi_bytes([part])
    channels = {b & 0x0F for b in data if 0x90 <= b <= 0x9F}
    assert channels == {9} and part.notes == [(36, 0, 1), (38, 0, 1)]


def test_reading_merges_drum_tracks_and_quantizes_at_the_first_tempo():
    data = _midi([(36, 0), (36, 0), (38, 4)], extra_drum_tracks=[[(42, 2)]], pitched=[(60, 0)], qpm=90.0)
    song = drums.read_drums(data, "two.mid")
    assert (
        song.hits == ((0, 36), (2, 42), (4, 38)) and song.qpm == pytest.approx(90.0, abs=1e-3) and song.total_steps == 5
    )
    assert any("2 drum tracks" in r for r in song.remarks) and any("merged 1 repeated" in r for r in song.remarks)


@pytest.mark.parametrize(
    "data, words",
    [(_midi([], pitched=[(60, 0)]), "tune.mid has no drum notes"), (b"", "tune.mid is empty")],
)
def test_a_file_without_drums_is_a_one_line_input_error(data, words):
    with pytest.raises(InputError) as err:
        drums.read_drums(data, "tune.mid")
    assert str(err.value).startswith(words) and "\n" not in str(err.value)


# -- muse show: the drum grid -------------------------------------------------------------------
def test_grid_has_a_named_row_per_class_and_an_x_per_hit():
    from muse_cli.drum_grid import drum_grid, text_grid

    data = _midi(ROCK + [(49, 0), (35, 20), (21, 3)])  # a crash, a second kick pitch, a pitch in no class
    assert [(name, steps) for name, steps in drum_grid(data, "rock.mid").rows] == [
        ("kick", [0, 8, 16, 20, 24]),
        ("snare", [4, 12, 20, 28]),
        ("closed hi-hat", list(range(0, 32, 2))),
        ("open hi-hat", []),
        ("low tom", []),
        ("mid tom", []),
        ("high tom", []),
        ("crash", [0]),
        ("ride", []),
    ]
    assert text_grid(data, name="rock.mid").splitlines() == [
        "rock.mid",
        "               1                2",
        "         kick |x   .   x   .   |x   x   x   .   |",
        "        snare |.   x   .   x   |.   x   .   x   |",
        "closed hi-hat |x x x x x x x x |x x x x x x x x |",
        "  open hi-hat |.   .   .   .   |.   .   .   .   |",
        "      low tom |.   .   .   .   |.   .   .   .   |",
        "      mid tom |.   .   .   .   |.   .   .   .   |",
        "     high tom |.   .   .   .   |.   .   .   .   |",
        "        crash |x   .   .   .   |.   .   .   .   |",
        "         ride |.   .   .   .   |.   .   .   .   |",
    ]


def test_muse_show_draws_drums_as_a_grid_after_a_melody_and_alone(tmp_path, monkeypatch):
    from click.testing import CliRunner
    from conftest import DATA

    from muse_cli.cli import cli
    from muse_cli.drum_grid import drum_grid_png, text_grid
    from muse_cli.show import text_roll

    monkeypatch.chdir(tmp_path)
    kit = (DATA / "drums.mid").read_bytes()  # 16 hits, 2 steps apart: kick, side stick, snare in turn
    (tmp_path / "kit.mid").write_bytes(kit)
    both = _midi(ROCK, pitched=[(60, 0), (62, 4), (64, 8), (65, 16)])
    (tmp_path / "both.mid").write_bytes(both)
    runner = CliRunner()
    r = runner.invoke(cli, ["show", "kit.mid"], catch_exceptions=False)
    assert r.exit_code == 0 and r.stdout == text_grid(kit, name="kit.mid")
    assert "         kick |x   . x .   x   |. x .   x   . x |" in r.stdout.splitlines()
    r = runner.invoke(cli, ["show", "both.mid"], catch_exceptions=False)
    roll, grid = r.stdout.split("\ndrums\n")
    assert r.exit_code == 0 and roll == text_roll(both, name="both.mid")  # the melody's roll, unchanged
    assert grid.splitlines()[1] == "         kick |x   .   x   .   |x   .   x   .   |"
    r = runner.invoke(cli, ["show", "kit.mid", "-o", "-"], catch_exceptions=False)
    assert r.exit_code == 0 and r.stdout_bytes == drum_grid_png(kit, name="kit.mid")
    assert r.stdout_bytes.startswith(b"\x89PNG")
    r = runner.invoke(cli, ["show", "none.mid"])
    assert r.exit_code == 3


def test_show_of_drums_too_long_to_draw_is_one_line(tmp_path):
    from muse_cli.show import read_views

    with pytest.raises(InputError, match="long.mid is 1801 bars long; muse show draws at most 1000 bars"):
        read_views(_midi([(36, 0), (36, 16 * 1800)]), "long.mid")
