"""Hard-pixel mining (--ohem): which pixels the loss keeps, on hand-made probabilities."""
import numpy as np
import tensorflow.compat.v1 as tf

from fcnroad.training import hard_pixels

tf.disable_v2_behavior()


def mask(true_probabilities, valid, threshold, min_kept):
    """The mask for two-class pixels whose true class (class 0) has these probabilities."""
    p = np.asarray(true_probabilities, np.float64)
    logits = np.stack([np.log(p), np.log(1 - p)], axis=1).astype(np.float32)
    labels = np.tile(np.array([[1.0, 0.0]], np.float32), (len(p), 1)) * np.asarray(valid, np.float32)[:, None]
    with tf.Graph().as_default(), tf.Session() as sess:
        return sess.run(hard_pixels.hard_pixel_mask(tf.constant(logits), tf.constant(labels),
                                                    tf.constant(np.asarray(valid, np.float32)), threshold, min_kept))


def test_pixels_below_the_threshold_are_kept():
    p = [0.1, 0.5, 0.69, 0.71, 0.9, 0.99]
    np.testing.assert_array_equal(mask(p, [1] * 6, 0.7, 0.0), [1, 1, 1, 0, 0, 0])


def test_too_few_hard_pixels_raise_the_cut_to_the_hardest_share():
    p = [0.95, 0.8, 0.9, 0.99, 0.85, 0.97, 0.75, 0.999]      # none below 0.7
    np.testing.assert_array_equal(mask(p, [1] * 8, 0.7, 0.25), [0, 1, 0, 0, 0, 0, 1, 0])   # the 2 hardest of 8


def test_ignored_pixels_are_never_kept_nor_counted():
    p = [0.1, 0.2, 0.95, 0.96, 0.97, 0.98]
    valid = [0, 0, 1, 1, 1, 1]
    # 1/4 of the 4 valid pixels is one: the hardest valid one, 0.95; the ignored 0.1 and 0.2 stay out
    np.testing.assert_array_equal(mask(p, valid, 0.5, 0.25), [0, 0, 1, 0, 0, 0])


def test_threshold_1_keeps_every_valid_pixel():
    np.testing.assert_array_equal(mask([0.2, 0.6, 0.9], [1, 0, 1], 1.0, 0.0), [1, 0, 1])


def test_optimize_with_ohem_averages_the_loss_over_the_hard_pixels_only():
    import main
    p = np.array([0.2, 0.6, 0.8, 0.95])                # the true class's probabilities: two below 0.7
    start = np.stack([np.log(p), np.log(1 - p)], axis=1).reshape(1, 2, 2, 2).astype(np.float32)
    labels = np.zeros((1, 2, 2, 2), np.float32)
    labels[..., 0] = 1.0
    for ohem, kept in ((0.7, p[:2]), (0.0, p)):
        with tf.Graph().as_default(), tf.Session() as sess:
            scores = tf.Variable(start)
            _, _, loss = main.optimize(scores, tf.constant(labels), tf.placeholder(tf.float32, []), 2, ohem=ohem)
            sess.run(tf.global_variables_initializer())
            np.testing.assert_allclose(sess.run(loss), -np.log(kept).mean(), rtol=1e-5)
