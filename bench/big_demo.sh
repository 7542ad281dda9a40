#!/usr/bin/env bash
# The random-weight cat-mel_2bar_big-shaped checkpoint through the same path a user takes:
# sample (16 s, with .wav), encode a real melody, decode it, render. Prints each step's wall time.
set -euo pipefail
BIG=${1:-build/cat-mel_2bar_big-random}
MUSE=${MUSE:-.venv/bin/muse}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
t() { local s=$(date +%s.%N); "$@" >/dev/null 2>&1; local e=$(date +%s.%N); awk -v s="$s" -v e="$e" -v c="$*" 'BEGIN { printf "%-70s %6.1f s\n", c, e - s }' >&2; }
echo "random weights: the music is noise by design; this proves shapes, loading and the pipeline" >&2
t $MUSE sample --seconds 16 --seed 1 -c "$BIG" --wav -o "$OUT/s.mid"
t $MUSE encode tests/data/folk_16bar.mid -c "$BIG" -o "$OUT/z.npz"
t $MUSE decode "$OUT/z.npz" -c "$BIG" --seed 1 -o "$OUT/d.mid"
t $MUSE render "$OUT/d.mid" -o "$OUT/d.wav"
t $MUSE sample -n 64 --seed 1 -c "$BIG" -o "$OUT/n64"
.venv/bin/python - "$OUT" <<'PY'
import sys, wave, pretty_midi, numpy as np
out = sys.argv[1]
for f in ("s.mid", "d.mid"):
    print(f, "seconds:", round(pretty_midi.PrettyMIDI(f"{out}/{f}").get_end_time(), 3), file=sys.stderr)
w = wave.open(f"{out}/s.wav"); print("s.wav seconds:", w.getnframes() / w.getframerate(), file=sys.stderr)
print("z shape:", np.load(f"{out}/z.npz")["z"].shape, file=sys.stderr)
PY
