"""LR-ASPP: the global-pooled gate carries context to every pixel; the stride-8 skip adds detail."""
import numpy as np
import tensorflow as tf2

from fcnroad.models import lraspp

tf = tf2.compat.v1
HIGH_DEPTH, LOW_DEPTH = 6, 4


def head(sess, num_classes=2):
    endpoints = {'input': tf.placeholder(tf.float32, [None, None, None, 3]),
                 lraspp.HIGH: tf.placeholder(tf.float32, [None, None, None, HIGH_DEPTH]),
                 lraspp.LOW: tf.placeholder(tf.float32, [None, None, None, LOW_DEPTH])}
    scores = lraspp.lraspp(endpoints, num_classes, depth=5)
    sess.run(tf.global_variables_initializer())
    variables = {v.op.name: v for v in tf.global_variables()}
    for name in ('score_high/weights', 'score_low/weights'):     # zero-initialised: give them a voice
        variables[name].load(np.random.RandomState(0).normal(0, 1, variables[name].shape.as_list()), sess)
    # Positive weights on the positive features fed here: no ReLU of aspp_conv is off at every channel of a
    # cell, which a random start left so about once in thirty runs (and the gate's effect there unseen).
    shape = variables['aspp_conv/weights'].shape.as_list()
    variables['aspp_conv/weights'].load(np.abs(np.random.RandomState(1).normal(0, 1, shape)), sess)
    return endpoints, scores, variables


def feed(endpoints, h=64, w=96, seed=0):
    rng = np.random.RandomState(seed)
    return {endpoints['input']: np.zeros((1, h, w, 3)),
            endpoints[lraspp.HIGH]: rng.uniform(0, 1, (1, h // 16, w // 16, HIGH_DEPTH)),
            endpoints[lraspp.LOW]: rng.uniform(0, 1, (1, h // 8, w // 8, LOW_DEPTH))}


def test_scores_have_the_input_size_and_the_papers_layers():
    with tf.Graph().as_default(), tf.Session() as sess:
        endpoints, scores, variables = head(sess)
        for h, w in ((64, 96), (80, 48)):
            assert sess.run(scores, feed(endpoints, h, w)).shape == (1, h, w, 2)
    assert set(variables) == {'aspp_conv/weights', 'aspp_conv/biases', 'aspp_gate/weights', 'score_high/weights',
                              'score_high/biases', 'score_low/weights', 'score_low/biases'}


def test_the_gate_carries_a_change_in_one_corner_to_the_far_corner():
    """A 1x1 head sees only its own pixel; the global-pooled gate makes every pixel see all of them."""
    with tf.Graph().as_default(), tf.Session() as sess:
        endpoints, scores, variables = head(sess)
        base = feed(endpoints)
        moved = dict(base)
        high = base[endpoints[lraspp.HIGH]].copy()
        high[0, 0, 0] += 5.0                                      # top-left cell of the stride-16 features
        moved[endpoints[lraspp.HIGH]] = high
        far = np.abs(sess.run(scores, moved) - sess.run(scores, base))[0, -8:, -8:]   # the bottom-right corner
        variables['aspp_gate/weights'].load(np.zeros(variables['aspp_gate/weights'].shape.as_list()), sess)
        ungated = np.abs(sess.run(scores, moved) - sess.run(scores, base))[0, -8:, -8:]
    assert far.max() > 1e-3
    assert ungated.max() < 1e-6 * max(far.max(), 1)        # a constant gate (0.5): no path to the far corner


def test_the_low_skip_alone_decides_where_the_high_branch_is_silent():
    with tf.Graph().as_default(), tf.Session() as sess:
        endpoints, scores, variables = head(sess)
        variables['score_high/weights'].load(np.zeros(variables['score_high/weights'].shape.as_list()), sess)
        f = feed(endpoints)
        out = sess.run(scores, f)
        f[endpoints[lraspp.HIGH]] = f[endpoints[lraspp.HIGH]] * 0 + 3.0
        assert np.allclose(sess.run(scores, f), out)             # high features no longer matter
        assert np.abs(out).max() > 0                             # the skip still speaks
