"""Hypercolumns: one column of every stage per pixel, each stage's scale normalised away."""
import numpy as np
import tensorflow as tf2

from fcnroad.models import hypercolumn

tf = tf2.compat.v1
DEPTHS = {'pool2': 4, 'pool3': 6, 'pool4': 8, 'fc7': 10}
STRIDES = {'pool2': 4, 'pool3': 8, 'pool4': 16, 'fc7': 32}


def test_column_holds_every_stage_and_ignores_each_stages_scale():
    rng = np.random.RandomState(0)
    h, w = 64, 96
    features = {k: rng.uniform(0, 1, (1, h // s, w // s, DEPTHS[k])).astype(np.float32) for k, s in STRIDES.items()}
    with tf.Graph().as_default(), tf.Session() as sess:
        endpoints = {k: tf.placeholder(tf.float32, [None, None, None, d]) for k, d in DEPTHS.items()}
        endpoints['input'] = tf.placeholder(tf.float32, [None, None, None, 3])
        scores = hypercolumn.hypercolumn(endpoints, 3)
        column = tf.get_default_graph().get_tensor_by_name('hypercolumn:0')
        sess.run(tf.global_variables_initializer())
        score_weights = [v for v in tf.global_variables() if v.op.name == 'score/weights'][0]
        score_weights.load(rng.normal(0, 1, score_weights.shape.as_list()), sess)   # not zero: see the input
        feed = {endpoints[k]: v for k, v in features.items()}
        feed[endpoints['input']] = np.zeros((1, h, w, 3))
        base, col = sess.run([scores, column], feed)
        feed[endpoints['pool2']] = features['pool2'] * 1000.0          # pool2 a thousand times louder
        louder = sess.run(scores, feed)
    assert col.shape == (1, h // 8, w // 8, sum(DEPTHS.values()))
    assert base.shape == (1, h, w, 3) and np.abs(base).max() > 0
    np.testing.assert_allclose(louder, base, rtol=1e-4, atol=1e-4 * np.abs(base).max())
