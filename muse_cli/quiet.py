"""Keeping other libraries' chatter off stdout, so a MIDI or WAV stream there stays clean, and TensorFlow's
start-up logs off the terminal.

Nothing here imports TensorFlow at import time: :func:`quiet_tensorflow` imports it when called.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys

from muse_cli import settings


@contextlib.contextmanager
def stdout_to_stderr():
    """While inside, anything printed to stdout (by Python or by C code) goes to stderr instead.

    Keeps a MIDI or WAV stream on stdout clean of other libraries' chatter.
    """
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no usable fd 1 (embedded interpreter): Python-level redirect only
        saved = None
    try:
        if saved is not None:
            os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if saved is not None:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


class _QuietImportFinder(importlib.abc.MetaPathFinder):
    """Imports the named modules quietly: CI unset and stdout sent to stderr while they load.

    pyfluidsynth prints where it found libfluidsynth to stdout at import time whenever the CI
    variable is set, and pretty_midi, note_seq and magenta all import it: without this,
    `muse sample -o -` or `muse render - -o -` in a CI job would put that line into the file,
    and on stderr it would turn every one-line error into two lines.
    """

    modules = frozenset({"fluidsynth"})

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.modules:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        real = spec.loader

        class _Loader(importlib.abc.Loader):
            def create_module(self, spec):
                return real.create_module(spec)

            def exec_module(self, module):
                ci = os.environ.pop("CI", None)
                try:
                    with stdout_to_stderr():
                        real.exec_module(module)
                finally:
                    if ci is not None:
                        os.environ["CI"] = ci

        spec.loader = _Loader()
        return spec


def keep_stdout_clean() -> None:
    """Install the quiet import of chatty modules (idempotent). Called by the CLI and batch workers."""
    if not any(isinstance(f, _QuietImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImportFinder())


def quiet_tensorflow() -> None:
    """Import TensorFlow with its start-up chatter off the terminal unless --verbose / MUSE_VERBOSE."""
    if not settings.verbose():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    import warnings

    if not settings.verbose():
        warnings.filterwarnings("ignore")
    import tensorflow as tf  # noqa: F401  (heavy: only here)

    if not settings.verbose():
        tf.get_logger().setLevel("ERROR")
        tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
