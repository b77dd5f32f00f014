"""oneDNN kept off AMX: set before TensorFlow's first kernel, a user's own cap kept, a training step that survives."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from fcnroad import cpu


def test_the_cap_is_set_only_on_a_cpu_with_amx_and_a_users_own_wins():
    environ = {}
    assert cpu.cap_onednn_isa({'avx512f', 'avx512_bf16'}, environ) is None and environ == {}
    assert cpu.cap_onednn_isa({'avx512f', 'avx512_bf16', 'amx_bf16'}, environ) == 'AVX512_CORE'
    assert environ == {cpu.ONEDNN_ISA_VARIABLE: 'AVX512_CORE'}
    own = {cpu.ONEDNN_ISA_VARIABLE: 'AVX2'}
    assert cpu.cap_onednn_isa({'amx_bf16'}, own) == 'AVX2' and own == {cpu.ONEDNN_ISA_VARIABLE: 'AVX2'}


def test_cpu_flags_reads_cpuinfo_and_is_empty_without_it(tmp_path):
    info = tmp_path / 'cpuinfo'
    info.write_text('processor\t: 0\nflags\t\t: fpu avx512f amx_bf16\n')
    assert {'avx512f', 'amx_bf16'} <= cpu.cpu_flags(str(info))
    assert cpu.cpu_flags(str(tmp_path / 'none')) == set()


# ImageNet-shaped FCN-8s, fresh weights, the tutorial's optimize(), three bfloat16 steps at 64x192.  Uncapped
# on an AMX CPU this aborted in its first or second step, three times in three (malloc(): unaligned tcache
# chunk detected), 2026-12-02; capped it runs.
BFLOAT16_STEPS = r'''
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import main
from fcnroad import models
from fcnroad.training import precision
tf = main.tf
with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [None, None, None, 3])
    labels = tf.placeholder(tf.float32, [None, None, None, 2])
    scores = models.build('fcn8s', images, tf.constant(1.0), {}, 2)
    _, train_op, loss = main.optimize(scores, labels, tf.constant(1e-4), 2)
    rng = np.random.RandomState(0)
    feed = {images: rng.uniform(0, 255, (2, 64, 192, 3)), labels: np.eye(2)[rng.randint(0, 2, (2, 64, 192))]}
    with tf.Session(config=precision.session_config(reduced=True, gpu=False)) as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train_op, feed)
print('steps done')
'''


@pytest.mark.skipif(cpu.AMX_FLAG not in cpu.cpu_flags(), reason='needs a CPU with AMX, where oneDNN would use it')
def test_bfloat16_training_steps_survive_on_a_cpu_with_amx():
    environ = {k: v for k, v in os.environ.items() if k != cpu.ONEDNN_ISA_VARIABLE}   # the package sets it
    environ['ONEDNN_VERBOSE'] = '1'
    done = subprocess.run([sys.executable, '-c', BFLOAT16_STEPS, ROOT], capture_output=True, text=True,
                          timeout=600, env=environ)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith('steps done')
    kernels = [line for line in done.stdout.splitlines() if line.startswith('onednn_verbose') and ',exec,' in line]
    assert kernels and any('bf16' in k for k in kernels)        # bfloat16 ran through oneDNN ...
    assert not [k for k in kernels if 'amx' in k]               # ... and never on AMX
