"""The CPU this runs on: its flags, and what of it oneDNN (TensorFlow's CPU kernels) may use.

On CPUs with AMX (Intel Xeon since Sapphire Rapids) TensorFlow 2.21's oneDNN runs bfloat16
convolutions on AMX, and an FCN training step there corrupts the heap: the process aborts in
its first step ("free(): invalid pointer", "malloc(): unaligned tcache chunk detected").
Capped at AVX512_CORE_BF16 (native bfloat16 instructions, no AMX) it runs but computes garbage:
FCN-8s's fc6 filter gradient jumps from a norm of 15 to 2e18 in the fourth step of the
64x192 sample run, then its convolutions return NaN for finite inputs (docs/precision.md).
Capped at AVX512_CORE, oneDNN emulates bfloat16 with AVX512F and trains correctly.  float32
kernels use neither AMX nor the bfloat16 instructions, so the cap changes bfloat16 alone.  oneDNN reads the cap once,
when it creates its first kernel, so it is set when the package is imported (fcnroad/__init__),
before any command runs a session; an ONEDNN_MAX_CPU_ISA of the user's own is kept.
"""
import os

AMX_FLAG = 'amx_bf16'
ONEDNN_ISA_VARIABLE = 'ONEDNN_MAX_CPU_ISA'
ONEDNN_ISA_CAP = 'AVX512_CORE'


def cpu_flags(path='/proc/cpuinfo'):
    """The instruction-set flags /proc/cpuinfo lists (empty where there is none)."""
    try:
        with open(path) as f:
            return set(f.read().split())
    except OSError:
        return set()


def cap_onednn_isa(flags=None, environ=os.environ):
    """Keep oneDNN off AMX on a CPU that has it; returns the cap in effect (None: no cap)."""
    flags = cpu_flags() if flags is None else set(flags)
    if AMX_FLAG in flags:
        environ.setdefault(ONEDNN_ISA_VARIABLE, ONEDNN_ISA_CAP)
    return environ.get(ONEDNN_ISA_VARIABLE)


# The flags that say which kind of x86 CPU a figure was measured on (the project's machines differ in these).
NAMED_FLAGS = ('avx2', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_tile')


def describe(path='/proc/cpuinfo'):
    """'<model name>, <cores> cores, flags <the NAMED_FLAGS it has>': the line every benchmark prints first."""
    name = None
    try:
        with open(path) as f:
            name = next((line.split(':', 1)[1].strip() for line in f if line.startswith('model name')), None)
    except OSError:
        pass
    flags = cpu_flags(path)
    return '%s, %d cores, flags %s' % (name or 'unknown CPU', os.cpu_count() or 0,
                                      ' '.join(f for f in NAMED_FLAGS if f in flags) or 'none of ' + ' '.join(NAMED_FLAGS))
