"""A boundary-aware loss (--boundary-weight W): pixels near where the label changes class count 1 + W
times in the loss, so the road's edges (kerbs, verges, a car's wheels) weigh more than the middle of
the lane, which every pixel-averaged loss is dominated by.

A pixel is near a boundary when its (2 RADIUS + 1)-pixel square holds more than one class of the label;
pixels that are not evaluated (all-zero one-hot rows) hold none, so the edge of an ignored region is no
boundary.  The band is found from the label alone, with one max-pool per batch, at the network's size.
"""
import tensorflow as tf2

tf = tf2.compat.v1

RADIUS = 4      # pixels either side of a class change, at the size the network sees (384x1248 on KITTI)


def boundary_band(correct_label, radius=RADIUS):
    """1.0 where a pixel's square of side 2 radius + 1 holds two classes or more, else 0.0; (N, H, W)
    from a one-hot (N, H, W, C) label."""
    with tf.name_scope('boundary_band'):
        side = 2 * radius + 1
        present = tf.nn.max_pool2d(tf.cast(correct_label, tf.float32), side, 1, 'SAME')
        return tf.cast(tf.reduce_sum(present, axis=-1) > 1.5, tf.float32)


def boundary_weights(correct_label, weight, radius=RADIUS):
    """Per-pixel loss weights, 1 + weight inside the band, as rows matching the logits' reshape."""
    return tf.reshape(1.0 + weight * boundary_band(correct_label, radius), [-1], name='boundary_weights')
