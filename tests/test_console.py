"""fcnroad/console.py: TensorFlow's start-up lines hidden by default, shown with --verbose; errors still shown."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT

# What TensorFlow prints at start-up on a machine without a GPU (absl, CUDA, deprecation notices).
NOISE = ('absl::InitializeLog', 'cudart_stub', 'cuInit', 'cuda drivers', 'is deprecated', 'disable_resource_variables')
SCRIPT = ('import sys\n'
          'from fcnroad import console\n'
          'console.quiet_tensorflow(sys.argv[1:])\n'
          'import tensorflow.compat.v1 as tf\n'
          'tf.disable_v2_behavior()\n'
          'tf.Session().close()\n'
          'raise SystemExit("the error itself")\n')


def run(*args, script=SCRIPT):
    env = {k: v for k, v in os.environ.items() if k != 'TF_CPP_MIN_LOG_LEVEL'}
    return subprocess.run([sys.executable, '-c', script, *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)


def test_start_up_noise_is_hidden_unless_verbose_and_errors_still_show():
    verbose = run('--verbose')
    shown = [word for word in NOISE if word in verbose.stderr]
    if not shown:
        pytest.skip('TensorFlow prints nothing at start-up on this machine: nothing to hide')
    quiet = run()
    assert [word for word in NOISE if word in quiet.stderr] == [], quiet.stderr
    # stderr is back once TensorFlow is imported: what goes wrong afterwards is seen
    assert quiet.stderr == 'the error itself\n' and quiet.returncode == 1


def test_a_command_that_fails_shows_its_one_line_and_nothing_else(tmp_path):
    (tmp_path / 'none').mkdir()     # a folder, but no model: the library's ModelError, as one line
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'export.py'), '--model', str(tmp_path / 'none'),
                             '--out', str(tmp_path / 'out')], capture_output=True, text=True, cwd=ROOT, timeout=300,
                            env={k: v for k, v in os.environ.items() if k != 'TF_CPP_MIN_LOG_LEVEL'})
    assert result.returncode == 1
    assert result.stderr.splitlines() == ['%s: not a saved FCN-8 model (no run_config.json)' % (tmp_path / 'none')]
