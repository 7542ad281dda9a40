"""The one MIDI writer: the bytes muse has always written, and files that read back as written."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from muse_cli.midi import events_to_notes, read_melody, read_provenance, to_midi_bytes

# sha256 over the 300 files of _cases() as pretty_midi 0.2.10 wrote them before muse wrote MIDI by hand:
# `muse sample` and `muse batch` files are byte for byte what they were.
PINNED = "e847f8fca2de39afc1bab1aefd0184d8440ff369b490bf8e7a44718afde6a2c4"


def _cases():
    rng = np.random.default_rng(0)
    for i in range(300):
        segs = int(rng.integers(1, 5))
        events = rng.integers(0, 90, 32 * segs) * (rng.random(32 * segs) < rng.random())
        qpm = float(rng.choice([120.0, 100.0, 77.7, 133.3, 60.0, 200.0]))
        seconds = None if i % 5 == 0 else float(rng.random() * segs * 480 / qpm + 0.01)
        prov = None if i % 7 == 0 else {"seed": i, "qpm": qpm, "seconds": seconds, "mode": "sample"}
        yield events_to_notes(events), qpm, prov, seconds


def test_writer_gives_the_bytes_muse_always_wrote():
    digest = hashlib.sha256()
    for notes, qpm, prov, seconds in _cases():
        digest.update(to_midi_bytes(notes, qpm, prov, seconds))
    assert digest.hexdigest() == PINNED


@pytest.mark.parametrize("qpm", [120.0, 77.7])
def test_written_file_reads_back_with_its_notes_provenance_and_length(qpm):
    import io

    import pretty_midi

    notes = [(60, 0, 4), (62, 4, 6), (64, 8, 16), (67, 16, 40)]
    prov = {"seed": 3, "mode": "sample", "prompt": "a calm tune"}
    data = to_midi_bytes(notes, qpm, prov, seconds=30 * 15.0 / qpm)  # cut at step 30: the last note ends there
    melody = read_melody(data, "t.mid")
    assert melody.notes == notes[:3] + [(67, 16, 30)] and melody.qpm == pytest.approx(qpm, abs=1e-3)
    assert read_provenance(data) == prov
    pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    assert pm.get_end_time() == pytest.approx(30 * 15.0 / qpm, abs=1e-3)
    assert pm.instruments[0].name == "muse melody"
