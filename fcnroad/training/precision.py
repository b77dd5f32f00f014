"""Which precision a run trains and predicts in, and the session options that give it.

`--mixed-precision {auto,on,off}`: reduced precision is TensorFlow's graph rewrite,
float16 on a GPU, bfloat16 through oneDNN on a CPU.  TensorFlow runs the oneDNN
rewrite only on CPUs with AVX512F (or AVX-NE-CONVERT): elsewhere it is skipped
without a word, so `on` there trains in float32 and the run says so.  `auto` takes
reduced precision only where it is native (a GPU, or AVX512_BF16) and faster (not on
a CPU with AMX, where oneDNN is kept off AMX: cpu.py); `on` takes it wherever TensorFlow
will run it (emulated bfloat16 is slower).
"""
import collections
import os

import tensorflow as tf2
from tensorflow.core.protobuf import rewriter_config_pb2

from fcnroad import cpu

tf = tf2.compat.v1

MODES = ('auto', 'on', 'off')
DEFAULT_MODE = 'off'

# oneDNN's bfloat16 lists put reductions (Sum, Mean) and the softmax family in their
# "infer" list, so next to a bfloat16 convolution they run in bfloat16 (8 bits of
# mantissa: a sum over thousands of pixels loses every integer above 256).  The float16
# lists and Keras' mixed-precision policy keep them in float32; so does this project.
# The rewrite reads these lists from its environment variables when a session optimises
# its graph (tensorflow/core/grappler/optimizers/auto_mixed_precision_lists.h).
KEEP_FLOAT32 = ('Sum', 'Mean', 'Softmax', 'LogSoftmax', 'Log')
DENYLIST_ADD = 'TF_AUTO_MIXED_PRECISION_GRAPH_REWRITE_DENYLIST_ADD'
INFERLIST_REMOVE = 'TF_AUTO_MIXED_PRECISION_GRAPH_REWRITE_INFERLIST_REMOVE'

# name: 'float32', 'bfloat16' or 'float16'; rewrite: the session's graph rewrite is on;
# note: why, in a few words, printed with the run's settings.
Precision = collections.namedtuple('Precision', 'name rewrite note')


def normalise_mode(value):
    """A --mixed-precision value, or one saved by a run from before the modes (True/False)."""
    if value is True:
        return 'on'
    if value in (False, None):
        return 'off'
    if value not in MODES:
        raise ValueError('--mixed-precision must be one of %s, not %r' % (', '.join(MODES), value))
    return value


def resolve(mode, gpu=None, flags=None, cpu_bfloat16=True):
    """The Precision a --mixed-precision mode gives on this machine (gpu, flags: for tests).

    cpu_bfloat16 False (the network's models.MODELS entry): `auto` keeps float32 on a CPU, where
    that network trains no faster in bfloat16.
    """
    mode = normalise_mode(mode)
    if mode == 'off':
        return Precision('float32', False, '--mixed-precision off')
    if gpu is None:
        gpu = bool(tf2.config.list_physical_devices('GPU'))
    if gpu:
        return Precision('float16', True, 'GPU graph rewrite (--mixed-precision %s)' % mode)
    flags = cpu.cpu_flags() if flags is None else set(flags)
    native = bool(flags & {'avx512_bf16', 'amx_bf16'})
    rewrite_runs = bool(flags & {'avx512f', 'avx_ne_convert'})
    if mode == 'auto' and not native:
        return Precision('float32', False, '--mixed-precision auto: this CPU has no native bfloat16 '
                                           '(AVX512_BF16 or AMX)')
    if mode == 'auto' and cpu.AMX_FLAG in flags:
        # Off AMX (cpu.py), this CPU's bfloat16 measured slower than its float32 (BENCHMARKS.md).
        return Precision('float32', False, '--mixed-precision auto: on a CPU with AMX, bfloat16 runs emulated '
                                           '(AMX and the native bfloat16 kernels break TensorFlow 2.21\'s training '
                                           'there) and is slower than float32')
    if mode == 'auto' and not cpu_bfloat16:
        return Precision('float32', False, '--mixed-precision auto: this network trains no faster in bfloat16 '
                                           'on a CPU (--mixed-precision on forces it)')
    if not rewrite_runs:
        return Precision('float32', False, '--mixed-precision %s, but TensorFlow runs its oneDNN bfloat16 '
                                           'rewrite only on CPUs with AVX512F, and this one has none' % mode)
    if not native:
        how = ', emulated (this CPU has no AVX512_BF16 or AMX: slower than float32)'
    elif cpu.AMX_FLAG in flags:
        how = ', emulated: oneDNN kept off AMX and the native bfloat16 kernels (%s=%s, fcnroad/cpu.py)' % (
            cpu.ONEDNN_ISA_VARIABLE, os.environ.get(cpu.ONEDNN_ISA_VARIABLE, 'unset'))
    else:
        how = ''
    return Precision('bfloat16', True, 'oneDNN graph rewrite%s; %s kept in float32' % (how, ', '.join(KEEP_FLOAT32)))


def keep_float32_in_environment(environ=os.environ, ops=KEEP_FLOAT32):
    """Move ops from the bfloat16 rewrite's infer list to its deny list (adds to what the user set)."""
    for variable, value in ((DENYLIST_ADD, ops), (INFERLIST_REMOVE, ops)):
        have = [op for op in environ.get(variable, '').split(',') if op]
        environ[variable] = ','.join(have + [op for op in value if op not in have])


def session_config(reduced=False, xla=False, gpu=None):
    """Session options: reduced precision through Grappler's rewrite, XLA auto-clustering."""
    config = tf.ConfigProto()
    config.gpu_options.allow_growth = True
    if gpu is None:
        gpu = bool(tf2.config.list_physical_devices('GPU'))
    if xla:
        config.graph_options.optimizer_options.global_jit_level = tf.OptimizerOptions.ON_1
    if reduced:
        on = rewriter_config_pb2.RewriterConfig.ON
        rewrite = config.graph_options.rewrite_options
        if gpu:
            rewrite.auto_mixed_precision = on
        else:
            keep_float32_in_environment()
            rewrite.auto_mixed_precision_onednn_bfloat16 = on
    return config
