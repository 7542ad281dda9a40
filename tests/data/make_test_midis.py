"""Writes the small MIDI files in tests/data. Run once; the outputs are committed.

    python tests/data/make_test_midis.py build/corpus/tunes.json.gz

folk_16bar.mid   the first 16 bars of "Horch auf, Kamerad, die Trommel" (Essen
                 collection, dva0 #128, test split of the default model), 4/4, 120 qpm
folk_b.mid       the first 4 bars of "Jetzund faellt die Nacht herein" (boehme10 #196, test split)
waltz_3_4.mid    a 3/4 tune (refused: muse needs 4/4)
drums.mid        drums only (refused)
chords.mid       block chords only (refused)
short.mid        half a bar (refused)
empty.mid        a valid MIDI file with no notes (refused)
not_midi.mid     text (refused)
"""

import sys
from pathlib import Path

import pretty_midi

from muse_cli.training.corpus import load_tunes

HERE = Path(__file__).parent


def write(name, notes_q, ts=(4, 4), drum=False, qpm=120.0):
    pm = pretty_midi.PrettyMIDI(initial_tempo=qpm)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(ts[0], ts[1], 0.0))
    inst = pretty_midi.Instrument(program=0, is_drum=drum)
    sec = 60.0 / qpm
    for p, s, e in notes_q:
        inst.notes.append(pretty_midi.Note(velocity=90, pitch=p, start=s * sec, end=e * sec))
    pm.instruments.append(inst)
    pm.write(str(HERE / name))


def main(tunes_pkl):
    tunes = {t["id"]: t for t in load_tunes(tunes_pkl)}
    a = tunes["essenFolksong/dva0#128"]
    write("folk_16bar.mid", [n for n in a["notes"] if n[2] <= 64.0])
    b = tunes["essenFolksong/boehme10#196"]
    write("folk_b.mid", [n for n in b["notes"] if n[2] <= 16.0])
    w = next(t for t in tunes.values() if t["meter"] == "3/4" and t["split"] == "test")
    write("waltz_3_4.mid", w["notes"][:24], ts=(3, 4))
    write("drums.mid", [(36 + (i % 3), i * 0.5, i * 0.5 + 0.25) for i in range(16)], drum=True)
    write("chords.mid", [(p, s, s + 2.0) for s in (0.0, 2.0, 4.0, 6.0) for p in (60, 64, 67)])
    write("short.mid", [(60, 0.0, 1.0), (62, 1.0, 2.0)])
    write("empty.mid", [])
    (HERE / "not_midi.mid").write_text("this is not a MIDI file\n")


if __name__ == "__main__":
    main(sys.argv[1])
