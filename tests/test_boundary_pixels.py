"""The boundary-aware loss (--boundary-weight): which pixels the band holds, on hand-made labels."""
import numpy as np
import tensorflow.compat.v1 as tf

from fcnroad.data import arrays
from fcnroad.training import boundary_pixels

tf.disable_v2_behavior()


def one_hot(classes):
    """(1, H, W, 2) from a class-index grid; arrays.IGNORE gives an all-zero row."""
    return arrays.one_hot(np.asarray(classes), 2)[None]


def band(classes, radius):
    with tf.Graph().as_default(), tf.Session() as sess:
        return sess.run(boundary_pixels.boundary_band(tf.constant(one_hot(classes)), radius))[0]


def test_the_band_is_radius_pixels_either_side_of_a_class_change():
    classes = np.zeros((3, 8), int)
    classes[:, 4:] = 1                                   # the change lies between columns 3 and 4
    expected = np.zeros((3, 8))
    expected[:, 2:6] = 1                                 # radius 2: columns 2, 3 | 4, 5
    np.testing.assert_array_equal(band(classes, 2), expected)
    expected_1 = np.zeros((3, 8))
    expected_1[:, 3:5] = 1
    np.testing.assert_array_equal(band(classes, 1), expected_1)


def test_one_class_has_no_band():
    np.testing.assert_array_equal(band(np.ones((4, 5), int), 2), np.zeros((4, 5)))


def test_the_edge_of_an_ignored_region_is_no_boundary():
    classes = np.zeros((3, 6), int)
    classes[:, 3:] = arrays.IGNORE
    np.testing.assert_array_equal(band(classes, 1), np.zeros((3, 6)))


def test_optimize_weights_the_band_and_averages_over_the_valid_pixels():
    import main
    wide = np.zeros((1, 20), int)
    wide[:, 4:8] = 1                                     # changes at 3|4 and 7|8: radius 4 covers columns 0-11
    labels = one_hot(np.repeat(wide, 2, axis=0))         # (1, 2, 20, 2)
    rng = np.random.RandomState(0)
    start = rng.normal(size=labels.shape).astype(np.float32)
    shifted = start - start.max(axis=-1, keepdims=True)
    per_pixel = -(labels * (shifted - np.log(np.exp(shifted).sum(-1, keepdims=True)))).sum(-1)[0]
    in_band = band(np.repeat(wide, 2, axis=0), boundary_pixels.RADIUS)
    assert in_band[:, :12].all() and not in_band[:, 12:].any()
    for weight in (0.0, 3.0):
        with tf.Graph().as_default(), tf.Session() as sess:
            scores = tf.Variable(start)
            _, _, loss = main.optimize(scores, tf.constant(labels), tf.placeholder(tf.float32, []), 2,
                                       boundary_weight=weight)
            sess.run(tf.global_variables_initializer())
            expected = (per_pixel * (1 + weight * in_band)).mean()
            np.testing.assert_allclose(sess.run(loss), expected, rtol=1e-5)
