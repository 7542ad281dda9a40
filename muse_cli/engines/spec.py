"""What a config's tensors look like, without TensorFlow: steps, depths, family and sampler.

``Engine.spec`` is one of these. The table is magenta's (data converter depths, ``max_seq_len``),
checked against magenta's own configs in tests/test_families_engine.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from muse_cli.encoding import NUM_CLASSES, WINDOW_STEPS

# config: (family, sampler, steps, input depth, output depth, control depth)
_TABLE = {
    "cat-mel_2bar_small": ("melody", "categorical", 32, 90, 90, 0),
    "cat-mel_2bar_big": ("melody", "categorical", 32, 90, 90, 0),
    "cat-mel_2bar_med_chords": ("melody", "categorical", 32, 90, 90, 49),
    "cat-drums_2bar_small": ("drums", "categorical", 32, 10, 512, 0),
    "nade-drums_2bar_full": ("drums", "nade", 32, 62, 61, 0),
    "groovae_2bar_humanize": ("groove", "groove", 32, 27, 27, 0),
    "groovae_2bar_tap_fixed_velocity": ("groove", "groove", 32, 27, 27, 0),
    "groovae_4bar": ("groove", "groove", 64, 27, 27, 0),
    # the hierarchical 16-bar models (muse_cli.engines.hierarchical): 16 bars of 16 steps; the trio's
    # output is melody 90 + bass 90 + drums 512 one-hots, its input the same three concatenated
    "hierdec-mel_16bar": ("melody", "categorical", 256, 90, 90, 0),
    "hierdec-trio_16bar": ("trio", "categorical", 256, 692, 692, 0),
}
SAMPLERS = ("categorical", "nade", "groove")


@dataclass(frozen=True)
class Spec:
    """A config's tensors: ``encode_tensors`` takes inputs [n, steps, input_depth] (and controls [n, steps,
    control_depth] when control_depth > 0); ``decode_tensors`` takes uniforms u and returns samples, both
    [n, steps, output_depth].

    family: the codec family ("melody", "drums", "groove", "trio"); sampler: how a step is drawn from u
    ("categorical": one-hot by Gumbel argmax; "nade": multi-hot, unit by unit; "groove": 9 hits, 9
    velocities, 9 offsets)."""

    config: str
    family: str
    sampler: str
    steps: int
    input_depth: int
    output_depth: int
    control_depth: int = 0

    @property
    def melody_events(self) -> bool:
        """Whether the melody events API (``decode_events``, ``encode_events``) drives this config: a 2-bar
        melody model of 90 classes without controls."""
        return (self.family, self.control_depth, self.steps, self.output_depth) == (
            "melody",
            0,
            WINDOW_STEPS,
            NUM_CLASSES,
        )


def spec_for(config: str, hparams: dict | None = None) -> Spec | None:
    """The spec of magenta config ``config`` (``max_seq_len`` from ``hparams`` if set), None if muse has none."""
    if config not in _TABLE:
        return None
    family, sampler, steps, input_depth, output_depth, control_depth = _TABLE[config]
    steps = int((hparams or {}).get("max_seq_len", steps))
    return Spec(config, family, sampler, steps, input_depth, output_depth, control_depth)


def configs() -> tuple[str, ...]:
    """Every config name with a spec."""
    return tuple(_TABLE)
