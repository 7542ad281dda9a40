"""MIDI bytes, fast (runs on workers); to be replaced by the one writer, midi.to_midi_bytes."""

from __future__ import annotations

import json
import logging

# midi.to_midi_bytes builds a pretty_midi object and lets mido check and encode every
# message: about 1-2 ms a melody, more than the model takes to decode it. For the
# files muse writes (one tempo, 4/4, one text event, one piano track, an optional
# controller 123 at the end) these functions produce the same bytes directly:
# the same tick rounding, the same comparator and sort as pretty_midi's write()
# (so ties fall the same way), the same running status as mido. Each task checks the
# first melody against to_midi_bytes and uses the slow path for the whole task
# (and the rest of the process) if the bytes ever differ.
_FAST_MIDI = {"ok": True}


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


_SECONDARY = {"set_tempo": 1 << 16, "time_signature": 2 << 16, "program_change": 6 << 16,
              "control_change": 8 << 16, "note_on": 10 << 16}


def _event_compare(e1, e2) -> int:
    """pretty_midi's event_compare on (tick, type, a, b) tuples; a, b: note/velocity or control/value."""
    if e1[0] == e2[0] and e1[1] in _SECONDARY and e2[1] in _SECONDARY:
        return _event_key(e1) - _event_key(e2)
    return e1[0] - e2[0]


def _event_key(e) -> int:
    if e[1] in ("note_on", "control_change"):
        return _SECONDARY[e[1]] + e[2] * 256 + e[3]
    return _SECONDARY[e[1]]


def _fast_midi_bytes(notes, qpm: float, provenance: dict | None, seconds: float | None,
                     velocity: int = 90) -> bytes:
    """midi.to_midi_bytes(notes, qpm, provenance, seconds), without pretty_midi and mido."""
    import functools
    import struct

    from muse_cli.midi import PROGRAM, PROVENANCE_PREFIX, STEPS_PER_QUARTER

    resolution = 480
    tick_scale = 60.0 / (qpm * resolution)

    def tick(t: float) -> int:
        return int(round(t / tick_scale)) if t > 0 else 0

    step_s = 60.0 / qpm / STEPS_PER_QUARTER
    timing = [(0, "set_tempo"), (0, "time_signature")]
    text = None
    if provenance:
        text = PROVENANCE_PREFIX + json.dumps(provenance, sort_keys=True, separators=(",", ":"))
        timing.append((0, "text"))
    timing.sort(key=functools.cmp_to_key(lambda a, b: _event_compare(a + (0, 0), b + (0, 0))))
    tempo = int(6e7 / (60.0 / (tick_scale * resolution)))
    body = bytearray()
    last = 0
    for t, kind in timing:
        body += _vlq(t - last)
        last = t
        if kind == "set_tempo":
            body += b"\xff\x51\x03" + tempo.to_bytes(3, "big")
        elif kind == "time_signature":
            body += b"\xff\x58\x04\x04\x02\x18\x08"
        else:
            data = text.encode("latin1")
            body += b"\xff\x01" + _vlq(len(data)) + data
    body += _vlq(1) + b"\xff\x2f\x00"
    track0 = bytes(body)

    events = [(0, "track_name", 0, 0), (0, "program_change", PROGRAM, 0)]
    for pitch, s, e in notes:
        start, end = s * step_s, e * step_s
        if seconds is not None:
            if start >= seconds - 1e-9:
                continue
            end = min(end, seconds)
        events.append((tick(start), "note_on", int(pitch), velocity))
        events.append((tick(end), "note_on", int(pitch), 0))
    if seconds is not None:
        events.append((tick(seconds), "control_change", 123, 0))
    events = sorted(events, key=functools.cmp_to_key(_event_compare))
    for n in range(len(events) - 1):
        e1, e2 = events[n], events[n + 1]
        if e1[0] == e2[0] and e1[1] == e2[1] == "note_on" and e1[2] == e2[2] and e1[3] != 0 and e2[3] == 0:
            events[n], events[n + 1] = e2, e1
    name = b"muse melody"
    body = bytearray()
    last, running = 0, None
    for t, kind, a, b in events:
        body += _vlq(t - last)
        last = t
        if kind == "track_name":
            body += b"\xff\x03" + _vlq(len(name)) + name
            running = None
            continue
        status, data = {"program_change": (0xC0, bytes([a])), "note_on": (0x90, bytes([a, b])),
                        "control_change": (0xB0, bytes([a, b]))}[kind]
        if status != running:
            body.append(status)
            running = status
        body += data
    body += _vlq(1) + b"\xff\x2f\x00"
    track1 = bytes(body)
    return (b"MThd" + struct.pack(">Lhhh", 6, 1, 2, resolution)
            + b"MTrk" + struct.pack(">L", len(track0)) + track0
            + b"MTrk" + struct.pack(">L", len(track1)) + track1)


def _midi_of(items: list) -> list[bytes]:
    """MIDI bytes of Generated items: the fast writer, checked against to_midi_bytes on the first."""
    if not items:
        return []
    first = items[0].midi()
    if _FAST_MIDI["ok"]:
        g = items[0]
        if _fast_midi_bytes(g.notes, g.qpm, g.provenance, g.seconds) == first:
            return [first] + [_fast_midi_bytes(g.notes, g.qpm, g.provenance, g.seconds) for g in items[1:]]
        _FAST_MIDI["ok"] = False
        logging.getLogger("muse.batch").warning("fast MIDI writer differs from midi.to_midi_bytes; using the latter")
    return [first] + [g.midi() for g in items[1:]]


