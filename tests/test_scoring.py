import numpy as np
import tensorflow.compat.v1 as tf

from fcnroad.evaluation import scoring


def ramp_model():
    """A 'network' whose road probability rises from 0 at the left edge to 1 at the right."""
    graph = tf.Graph()
    with graph.as_default():
        image = tf.placeholder(tf.float32, [None, None, None, 3])
        keep_prob = tf.placeholder(tf.float32)
        width = tf.shape(image)[2]
        ramp = tf.cast(tf.range(width), tf.float32) / tf.cast(width - 1, tf.float32)
        road = tf.zeros_like(image[..., 0]) + ramp
        probabilities = tf.stack([1 - road, road], -1)
    return tf.Session(graph=graph), {'image_input': image, 'keep_prob': keep_prob, 'probabilities': probabilities}


def test_scaled_shapes_are_multiples_of_32():
    assert scoring.scaled_shape((192, 256), 1.0) == (192, 256)
    assert scoring.scaled_shape((192, 256), 0.75) == (160, 192)     # 144 -> 160, 192
    assert scoring.scaled_shape((192, 256), 1.25) == (256, 320)     # 240 -> 256, 320


def test_flip_averaging_and_scales_known_answer():
    sess, tensors = ramp_model()
    images = [np.zeros((50, 70, 3), np.uint8)]
    plain, = scoring.tta_probabilities(sess, tensors, images, (64, 96), [(50, 70)])
    assert plain.shape == (50, 70, 2) and plain[0, 0, 1] < 0.02 and plain[0, -1, 1] > 0.98
    flipped, = scoring.tta_probabilities(sess, tensors, images, (64, 96), [(50, 70)], flip=True)
    np.testing.assert_allclose(flipped[..., 1], 0.5, atol=1e-6)     # the ramp and its mirror average out
    multi, = scoring.tta_probabilities(sess, tensors, images, (64, 96), [(50, 70)], scales=(0.5, 1.0, 1.5))
    assert multi.shape == (50, 70, 2)
    np.testing.assert_allclose(multi.sum(-1), 1, atol=1e-5)
    assert multi[0, 0, 1] < multi[0, 35, 1] < multi[0, -1, 1]
