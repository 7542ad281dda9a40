"""Which OpenBLAS kernels NumPy runs: chosen once, before NumPy loads, when nobody else chose.

NumPy 1.23.5 (pinned with magenta) bundles OpenBLAS 0.3.20. On a CPU it cannot identify (a virtual
machine that hides the CPU model, or a CPU newer than the library) it falls back to its Prescott
(SSE3) kernels: on this project's machines a float32 matrix product then ran at 11 GFLOPS against
40 with the AVX-512 kernels, and the NumPy engine ran several times slower than TensorFlow. When
OPENBLAS_CORETYPE is unset, the `muse` command sets it to SkylakeX where the CPU has AVX-512
(F, BW, DQ, VL), else to Haswell where it has AVX2 and FMA. A value already set is kept
(OPENBLAS_CORETYPE=Prescott gives back OpenBLAS's own choice here). Never set it to an empty
string: OpenBLAS 0.3.20 then picks Cooperlake kernels, which computed wrong products here.
"""

from __future__ import annotations

import os

_KERNELS = (("SkylakeX", {"avx512f", "avx512bw", "avx512dq", "avx512vl"}), ("Haswell", {"avx2", "fma"}))


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


def choose_openblas_kernel() -> str | None:
    """Set OPENBLAS_CORETYPE for this process and its children if unset; returns what is in force."""
    if "OPENBLAS_CORETYPE" not in os.environ:
        kernel = openblas_kernel(cpu_flags())
        if kernel:
            os.environ["OPENBLAS_CORETYPE"] = kernel
    return os.environ.get("OPENBLAS_CORETYPE")
