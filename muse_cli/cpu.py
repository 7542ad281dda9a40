"""Which OpenBLAS kernels NumPy runs: chosen once, before NumPy loads, when nobody else chose.

NumPy 1.23.5 (pinned with magenta) bundles OpenBLAS 0.3.20. On a CPU it cannot identify (a virtual
machine that hides the CPU model, or a CPU newer than the library) it falls back to its Prescott
(SSE3) kernels: on this project's machines a float32 matrix product then ran at 11 GFLOPS against
40 with the AVX-512 kernels, and the NumPy engine ran several times slower than TensorFlow. When
OPENBLAS_CORETYPE is unset, the `muse` command sets it to SkylakeX where the CPU has AVX-512
(F, BW, DQ, VL), else to Haswell where it has AVX2 and FMA. A value already set is kept
(OPENBLAS_CORETYPE=Prescott gives back OpenBLAS's own choice here). Never set it to an empty
string: OpenBLAS 0.3.20 then picks Cooperlake kernels, which computed wrong products here.

A value the CPU cannot run (SkylakeX without AVX-512) would kill the first matrix product with
"Illegal instruction" and no word from muse: :func:`choose_openblas_kernel` then loads NumPy with
the kernels this CPU runs instead and keeps the reason in :data:`refused`, which the `muse` command
says in one line before it does anything (exit 2).
"""

from __future__ import annotations

import os

# The instruction-set flags (as /proc/cpuinfo names them) that OpenBLAS 0.3.20's x86-64 kernels for each
# OPENBLAS_CORETYPE execute, by lowercase name; a name not here is not judged.
KERNEL_NEEDS = {
    "prescott": {"pni"},  # SSE3
    "core2": {"ssse3"},
    "penryn": {"sse4_1"},
    "dunnington": {"sse4_1"},
    "nehalem": {"sse4_2"},
    "sandybridge": {"avx"},
    "haswell": {"avx2", "fma"},
    "zen": {"avx2", "fma"},
    "skylakex": {"avx512f", "avx512bw", "avx512dq", "avx512vl"},
    "cooperlake": {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512_bf16"},
    "bulldozer": {"avx", "fma4"},  # AMD's FMA4, which no Intel CPU has
    "piledriver": {"avx", "fma", "fma4"},
    "steamroller": {"avx", "fma", "fma4"},
    "excavator": {"avx2", "fma", "fma4"},
}
_KERNELS = (("SkylakeX", KERNEL_NEEDS["skylakex"]), ("Haswell", KERNEL_NEEDS["haswell"]))
refused: str | None = None  # why the user's OPENBLAS_CORETYPE was not used (see choose_openblas_kernel)


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    """The instruction-set flags of the first CPU (empty where /proc/cpuinfo does not exist)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def openblas_kernel(flags: set[str]) -> str | None:
    """The best OpenBLAS 0.3.20 kernel that ``flags`` can run, or None."""
    return next((name for name, needs in _KERNELS if needs <= flags), None)


def unrunnable(value: str, flags: set[str]) -> str | None:
    """Why OPENBLAS_CORETYPE=``value`` cannot run on a CPU with ``flags``, in one line; None when it can
    (or when muse cannot tell: a name it does not know, a CPU without /proc/cpuinfo flags)."""
    needs = KERNEL_NEEDS.get(value.strip().lower())
    missing = sorted(needs - flags) if needs is not None and flags else []
    if not missing:
        return None
    instead = openblas_kernel(flags)
    then = f"muse then picks {instead}" if instead else "OpenBLAS then picks its own"
    return (
        f"OPENBLAS_CORETYPE={value} needs {', '.join(missing)}, which this CPU lacks (NumPy would stop with "
        f"'Illegal instruction'); unset OPENBLAS_CORETYPE ({then}) or name kernels this CPU runs"
    )


def choose_openblas_kernel() -> str | None:
    """Set OPENBLAS_CORETYPE for this process and its children if unset, or if set to kernels this CPU
    cannot run (the reason kept in :data:`refused`); returns what is in force."""
    global refused
    flags = cpu_flags()
    user = os.environ.get("OPENBLAS_CORETYPE")
    if user is not None:
        problem = unrunnable(user, flags)
        if problem is None:
            return user
        refused = problem
        del os.environ["OPENBLAS_CORETYPE"]  # NumPy must not load it: the command stops with ``refused``
    kernel = openblas_kernel(flags)
    if kernel:
        os.environ["OPENBLAS_CORETYPE"] = kernel
    return os.environ.get("OPENBLAS_CORETYPE")
