#!/usr/bin/env bash
# One-time set-up: FluidSynth (a system library), uv, and the locked Python environment in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

have_fluidsynth() { ldconfig -p 2>/dev/null | grep -q 'libfluidsynth\.so\.[23]'; }

if ! have_fluidsynth; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo"; else SUDO="none"; fi
  if [ "$SUDO" != none ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian's libfluidsynth3 (FluidSynth, for .wav rendering)" >&2
    $SUDO apt-get install -y -q libfluidsynth3 >/dev/null 2>&1 || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q libfluidsynth3 >/dev/null; }
  else
    echo "setup: FluidSynth is missing and I cannot install it (no root, no sudo, or no apt-get)." >&2
    echo "       Install it, then run this again:  sudo apt-get install libfluidsynth3   (Debian/Ubuntu)" >&2
    echo "       or: brew install fluid-synth (macOS), dnf install fluidsynth-libs (Fedora)" >&2
    exit 1
  fi
fi

UV=$(command -v uv || true)
if [ -z "$UV" ]; then
  echo "setup: installing uv (the installer that reads uv.lock)" >&2
  python3 -m pip install -q --disable-pip-version-check uv==0.13.9 >&2 || python3 -m pip install -q --user uv==0.13.9 >&2
  UV=$(command -v uv || echo "$HOME/.local/bin/uv")
fi

echo "setup: installing the locked environment into .venv (uv sync --frozen)" >&2
# --compile-bytecode: write every module's .pyc now. Where PYTHONDONTWRITEBYTECODE is set (it is on this
# project's machines) Python never writes them, and each `muse` run would compile NumPy again (0.3 s of
# a 0.4 s command).
"$UV" sync --frozen --python 3.11 -q --compile-bytecode
.venv/bin/python -m compileall -q muse_cli >/dev/null
echo "setup: done" >&2
