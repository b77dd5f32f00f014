"""distribute.py and main.py --distribute: mirrored on 2 logical CPUs, 2 workers on localhost, a lost worker."""
import glob
import json
import os
import re
import socket
import subprocess
import sys
import time
import types

import numpy as np
import pytest

from fcnroad.training import distribute
from fcnroad.serving import saved_model
import main
from conftest import ROOT, TINY_SHAPE, make_kitti, tiny_vgg_weights

tf = main.tf
RUN_TIMEOUT = 240       # seconds a tiny run may take in CI, start-up included
STEP_TIMEOUT = 15       # --step-timeout of the runs that lose a worker


# ---------------------------------------------------------------- TF_CONFIG and the setup's arithmetic
def tf_config(workers, index, task_type='worker'):
    return {distribute.TF_CONFIG: json.dumps({'cluster': {'worker': workers},
                                              'task': {'type': task_type, 'index': index}})}


def test_read_tf_config_gives_workers_and_index():
    assert distribute.read_tf_config(tf_config(['a:1', 'b:2'], 1)) == (['a:1', 'b:2'], 1)


@pytest.mark.parametrize('environ, says', [
    ({}, 'needs TF_CONFIG'),
    ({'TF_CONFIG': '{not json'}, 'not a cluster and task'),
    ({'TF_CONFIG': json.dumps({'cluster': {'worker': ['a:1']}})}, 'not a cluster and task'),
    (tf_config(['a:1', 'b:2'], 2), 'index": 0..1'),
    (tf_config(['a:1'], 0, task_type='ps'), '"type": "worker"'),
    (tf_config(['a'], 0), 'list of host:port'),
    ({'TF_CONFIG': json.dumps({'cluster': {'worker': ['a:1'], 'ps': ['b:2']}, 'task': {'type': 'worker',
                                                                                        'index': 0}})},
     'only "worker" jobs'),
])
def test_read_tf_config_names_what_is_wrong(environ, says):
    with pytest.raises(distribute.DistributeError, match=re.escape(says)):
        distribute.read_tf_config(environ)


def fake_setup(replicas, workers=1, task_index=0):
    strategy = types.SimpleNamespace(num_replicas_in_sync=replicas,
                                     extended=types.SimpleNamespace(worker_devices=['d'] * (replicas // workers)))
    return distribute.Setup('multi-worker', strategy, workers=['w:%d' % i for i in range(workers)],
                            task_index=task_index)


def test_learning_rate_rules_scale_with_the_replicas():
    setup = fake_setup(4)
    assert setup.learning_rate(1e-4, 'none') == 1e-4
    assert setup.learning_rate(1e-4, 'linear') == pytest.approx(4e-4)
    assert setup.learning_rate(1e-4, 'sqrt') == pytest.approx(2e-4)


def test_batch_size_must_split_over_the_replicas():
    setup = fake_setup(4, workers=2, task_index=1)
    setup.check_batch_size(8)
    with pytest.raises(distribute.DistributeError, match='multiple of 4'):
        setup.check_batch_size(6)
    assert setup.shard() == (1, 2) and not setup.is_chief


# ---------------------------------------------------------------- training runs, each in its own process
def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(('localhost', 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """(data folder, VGG16 folder) of a tiny set: 8 training images, so 2 global batches of 4."""
    from fcnroad.models import vgg, vgg_saved_model
    base = tmp_path_factory.mktemp('distribute')
    kitti = make_kitti(str(base / 'kitti'), n_train=8, n_test=2)
    vgg_dir = str(base / 'vgg')
    vgg_saved_model.write_saved_model(vgg_dir, tiny_vgg_weights(seed=5, with_fc=False),
                          shapes=vgg.expected_shapes(fc_depth=32, depth_scale=16), seed=2)
    return kitti, vgg_dir


def main_command(tiny, runs_dir, *extra, epochs=2, model='fcn16s'):
    # fcn16s: built from models/ on every path (fcn8s without --distribute is load_vgg's graph), L2 on.
    kitti, vgg_dir = tiny
    return [sys.executable, '-u', os.path.join(ROOT, 'main.py'), '--data-dir', kitti, '--vgg-dir', vgg_dir,
            '--runs-dir', runs_dir, '--model', model, '--image-shape', str(TINY_SHAPE[0]), str(TINY_SHAPE[1]),
            '--epochs', str(epochs), '--batch-size', '4', '--learning-rate', '1e-3', '--keep-prob', '1.0',
            '--val-fraction', '0', '--no-augment', '--skip-checks', '--seed', '3',
            '--checkpoint-minutes', '0', '--keep-checkpoints', '2', *extra]     # epoch 1's checkpoint stays


def run_main(command, env=None):
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                            timeout=RUN_TIMEOUT, env=dict(os.environ, **(env or {})))
    assert result.returncode == 0, result.stdout[-3000:]
    return result.stdout


def start_workers(command, ports):
    workers = ['localhost:%d' % p for p in ports]
    return [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                             env=dict(os.environ, **tf_config(workers, i))) for i in range(len(ports))]


def finish(process, timeout=RUN_TIMEOUT):
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail('still running after %d s (hung?):\n%s' % (timeout, output[-3000:]))
    return process.returncode, output


def epoch_losses(runs_dir):
    with open(os.path.join(glob.glob(os.path.join(runs_dir, '*'))[0], 'metrics.json')) as f:
        return json.load(f)['epoch_mean_loss']


def model_weights(runs_dir):
    run_dirs = glob.glob(os.path.join(runs_dir, '*'))
    assert len(run_dirs) == 1, run_dirs
    reader = tf.train.load_checkpoint(os.path.join(run_dirs[0], 'model', 'variables', 'variables'))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], atol=1e-5, rtol=0, err_msg=name)


@pytest.fixture(scope='module')
def reference(tiny, tmp_path_factory):
    """The single-device run's weights and epoch losses."""
    runs = str(tmp_path_factory.mktemp('reference'))
    run_main(main_command(tiny, runs))
    return model_weights(runs), epoch_losses(runs)


def test_mirrored_on_two_devices_trains_the_single_device_weights(tiny, reference, tmp_path):
    runs = str(tmp_path / 'runs')
    output = run_main(main_command(tiny, runs, '--distribute', 'mirrored', '--logical-cpus', '2'))
    assert '2 replicas in sync' in output
    weights = model_weights(runs)
    assert_same_weights(weights, reference[0])
    np.testing.assert_allclose(epoch_losses(runs), reference[1], rtol=1e-5)   # the global batch's loss
    first_epoch = tf.train.load_checkpoint(os.path.join(glob.glob(os.path.join(runs, '*'))[0], 'checkpoints',
                                                        'epoch-001'))   # it trained: epoch 2 moved the weights
    assert not np.allclose(first_epoch.get_tensor('decoder/score_fr/weights'), weights['decoder/score_fr/weights'])
    # The saved model is the single-device one evaluate.py and predict.py read.
    with tf.Graph().as_default(), tf.Session() as sess:
        tensors, run_config = saved_model.load_model(sess, os.path.join(glob.glob(os.path.join(runs, '*'))[0], 'model'))
        probabilities = sess.run(tensors['probabilities'], {tensors['image_input']: np.zeros((3,) + TINY_SHAPE + (3,))})
    assert run_config['model'] == 'fcn16s' and probabilities.shape == (3,) + TINY_SHAPE + (2,)


@pytest.mark.parametrize('model', ['fcn_squeezenet', 'lraspp_lite0'])
def test_a_light_family_trains_mirrored_as_on_one_device(model, tiny, tmp_path):
    from conftest import write_tiny_light_weights
    light = ('--encoder-weights', write_tiny_light_weights(model, str(tmp_path)))
    one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
    run_main(main_command(tiny, one, *light, model=model))
    assert '2 replicas in sync' in run_main(main_command(tiny, two, *light, '--distribute', 'mirrored',
                                                         '--logical-cpus', '2', model=model))
    weights = model_weights(two)
    assert_same_weights(weights, model_weights(one))
    np.testing.assert_allclose(epoch_losses(two), epoch_losses(one), rtol=1e-5)
    first_epoch = tf.train.load_checkpoint(os.path.join(glob.glob(os.path.join(two, '*'))[0], 'checkpoints',
                                                        'epoch-001'))
    assert any(not np.allclose(first_epoch.get_tensor(name), value) for name, value in weights.items())


def test_two_workers_train_the_single_process_weights_and_only_the_chief_writes(tiny, reference, tmp_path):
    runs = str(tmp_path / 'runs')
    workers = start_workers(main_command(tiny, runs, '--distribute', 'multi-worker'), free_ports(2))
    results = [finish(w) for w in workers]
    for code, output in results:
        assert code == 0, output[-3000:]
    digests = [re.search(r'Worker %d: weights sha256 ([0-9a-f]{64})' % i, output).group(1)
               for i, (_, output) in enumerate(results)]
    assert digests[0] == digests[1]                   # every copy of the weights is the same
    assert 'the chief, worker 0, writes the run' in results[1][1]
    assert_same_weights(model_weights(runs), reference[0])   # one run folder: the chief's, complete
    np.testing.assert_allclose(epoch_losses(runs), reference[1], rtol=1e-5)


def test_a_lost_worker_stops_the_other_with_a_clear_error(tiny, tmp_path):
    runs = str(tmp_path / 'runs')
    chief, other = start_workers(main_command(tiny, runs, '--distribute', 'multi-worker', '--step-timeout',
                                              str(STEP_TIMEOUT), epochs=200), free_ports(2))
    lines = []
    for line in chief.stdout:          # until the chief has trained a whole epoch with the other worker
        lines.append(line)
        if line.startswith('Epoch 1/'):
            break
    else:
        pytest.fail('the chief ended before training:\n%s' % ''.join(lines)[-3000:])
    other.kill()
    other.wait()
    lost_at = time.time()
    code, output = finish(chief, timeout=STEP_TIMEOUT + 60)
    assert code != 0
    assert 'a worker of localhost' in output and 'stops too' in output, output[-3000:]
    assert time.time() - lost_at < STEP_TIMEOUT + 60
    partial = glob.glob(os.path.join(runs, '*.partial'))
    assert len(partial) == 1 and '--resume %s' % partial[0] in output   # its checkpoints are kept
    assert not [d for d in glob.glob(os.path.join(runs, '*')) if not d.endswith('.partial')]
    # ... and the run goes on on one machine, as the message says
    run_main([sys.executable, os.path.join(ROOT, 'main.py'), '--resume', partial[0], '--epochs', '2',
              '--distribute', 'mirrored'])
    assert model_weights(runs)
