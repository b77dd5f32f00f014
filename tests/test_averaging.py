"""The weights' moving average (--ema): its arithmetic, its start, its swap, and a run that saves it."""
import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from conftest import make_kitti, run_tiny
from fcnroad.training import averaging, checkpoints

tf.disable_v2_behavior()


def tiny_average(decay):
    """(weights variable, train op adding 1.0 a step, its WeightAverage) in the default graph."""
    w = tf.get_variable('w', [2], initializer=tf.constant_initializer([1.0, -1.0]))
    step = tf.assign_add(w, [1.0, 1.0])
    average = averaging.WeightAverage([w], decay)
    return w, average.after(step), average


def test_the_average_follows_the_weights_with_the_debiased_decay():
    with tf.Graph().as_default(), tf.Session() as sess:
        w, train_op, average = tiny_average(0.5)
        sess.run(tf.global_variables_initializer())
        sess.run(w.assign([3.0, 5.0]))       # the starting weights (ImageNet's) come after the initialisers
        sess.run(average.start)
        expected = np.array([3.0, 5.0])
        for n in range(5):
            sess.run(train_op)
            weights = np.array([4.0, 6.0]) + n
            decay = min(0.5, (1.0 + n) / (10.0 + n))      # 0.1, 0.18..., then 0.5
            expected = decay * expected + (1 - decay) * weights
            np.testing.assert_allclose(sess.run(average.shadows[0]), expected, rtol=1e-6)
        np.testing.assert_allclose(sess.run(w), [8.0, 10.0])


def test_applied_swaps_the_average_in_and_back():
    with tf.Graph().as_default(), tf.Session() as sess:
        w, train_op, average = tiny_average(0.9)
        sess.run(tf.global_variables_initializer())
        sess.run(average.start)
        for _ in range(20):
            sess.run(train_op)
        raw, shadow = sess.run([w, average.shadows[0]])
        assert not np.allclose(raw, shadow)
        with average.applied(sess):
            np.testing.assert_allclose(sess.run(w), shadow)
        np.testing.assert_allclose(sess.run(w), raw)
        np.testing.assert_allclose(sess.run(average.shadows[0]), shadow)
        with pytest.raises(RuntimeError), average.applied(sess):
            raise RuntimeError('an evaluation failed')
        np.testing.assert_allclose(sess.run(w), raw)      # swapped back all the same


def test_a_decay_outside_0_1_is_refused():
    with tf.Graph().as_default():
        w = tf.get_variable('w', [1])
        with pytest.raises(ValueError, match='decay must be in'):
            averaging.WeightAverage([w], 1.0)


def test_a_run_with_ema_saves_the_average_and_validates_both(tmp_path, tiny_vgg):
    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=8, n_test=2)
    run_dir = run_tiny(kitti, tiny_vgg, str(tmp_path / 'runs'), '--skip-checks', '--ema', '0.8', '--epochs', '2',
                       '--eval-every', '1')
    prefix, _ = checkpoints.latest_checkpoint(os.path.join(run_dir, 'checkpoints'))
    kept = tf.train.load_checkpoint(prefix)      # the last step's weights and their average
    saved = tf.train.load_checkpoint(os.path.join(run_dir, 'model', 'variables', 'variables'))
    names = [n for n in saved.get_variable_to_shape_map() if not n.startswith(averaging.SCOPE)]
    assert names and not any(n.startswith(averaging.SCOPE) for n in saved.get_variable_to_shape_map())
    moved = 0
    for name in names:
        np.testing.assert_allclose(saved.get_tensor(name), kept.get_tensor(averaging.SCOPE + '/' + name), rtol=1e-6)
        moved += not np.allclose(kept.get_tensor(name), kept.get_tensor(averaging.SCOPE + '/' + name))
    assert moved > 0        # the average is not the last weights
    with open(os.path.join(run_dir, 'metrics.json')) as f:
        evaluations = json.load(f)['evaluations']
    assert [e['epoch'] for e in evaluations] == [1, 2]
    assert all('road_iou' in e and 'raw_weights/road_iou' in e for e in evaluations)
