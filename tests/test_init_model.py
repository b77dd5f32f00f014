"""main.py --init-model: fine-tuning starts from a saved model's weights, network and size."""
import json
import os

import numpy as np
import pytest

from conftest import make_kitti, run_tiny
from fcnroad import errors
from fcnroad.training import options

tf = pytest.importorskip('tensorflow').compat.v1


@pytest.fixture(scope='module')
def model_dir(trained_run):
    return os.path.join(trained_run[1], 'model')


def weights(model_dir):
    reader = tf.train.load_checkpoint(os.path.join(model_dir, 'variables', 'variables'))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def test_init_model_brings_its_network_size_and_the_fine_tuning_schedule(model_dir, tmp_path):
    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=4, n_test=0)
    args, explicit = options.resolve(['--data-dir', kitti, '--init-model', model_dir])
    with open(os.path.join(model_dir, 'run_config.json')) as f:
        saved = json.load(f)
    assert args.model == saved['model'] and args.image_shape == tuple(saved['image_shape'])
    assert {k: getattr(args, k) for k in options.FINETUNE_DEFAULTS} == options.FINETUNE_DEFAULTS
    given, _ = options.resolve(['--data-dir', kitti, '--init-model', model_dir, '--epochs', '3'])
    assert given.epochs == 3


def test_init_model_of_another_network_is_refused(model_dir, tmp_path):
    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=4, n_test=0)
    with pytest.raises(errors.ConfigError, match='is a fcn8s, not a --model fcn32s'):
        options.resolve(['--data-dir', kitti, '--init-model', model_dir, '--model', 'fcn32s'])
    with pytest.raises(errors.ConfigError, match='not a saved model of main.py'):
        options.resolve(['--data-dir', kitti, '--init-model', str(tmp_path)])


def test_fine_tuning_starts_from_the_saved_weights(model_dir, tmp_path, tiny_vgg):
    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=4, n_test=1, seed=3)
    # a rate so small the weights cannot move: the new model is the one it started from
    run_dir = run_tiny(kitti, tiny_vgg, str(tmp_path / 'runs'), '--init-model', model_dir, '--epochs', '1',
                       '--learning-rate', '1e-12')
    before, after = weights(model_dir), weights(os.path.join(run_dir, 'model'))
    assert set(before) == set(after)
    for name in before:
        np.testing.assert_allclose(after[name], before[name], atol=1e-6, err_msg=name)
