"""Hard-pixel mining (--ohem T, online hard example mining for segmentation): the loss averages over the
pixels the network still gets wrong or unsure, not over the many it already gets right.

A pixel is hard when the probability of its true class is below T; when fewer than MIN_KEPT of a batch's
pixels are, the cut rises until about that share is kept, so a batch the network has learnt still
teaches.  The cut is found from a histogram of the true-class probabilities (BINS bins, one pass), not a
sort of the batch's million-odd pixels.
"""
import tensorflow as tf2

tf = tf2.compat.v1

MIN_KEPT = 1.0 / 16     # at least this share of the batch's valid pixels, the hardest
BINS = 1024             # the cut's resolution in probability


def hard_pixel_mask(logits, labels, valid, threshold, min_kept=MIN_KEPT):
    """1.0 where a valid pixel counts in the loss, else 0.0 (rows of logits / one-hot labels, valid 0 or 1)."""
    with tf.name_scope('hard_pixels'):
        truth = tf.reduce_sum(tf.nn.softmax(tf.cast(logits, tf.float32)) * labels, axis=1)
        # Ignored pixels above every bin edge: the histogram puts them in the last bin, counted after the others.
        truth = tf.stop_gradient(tf.where(valid > 0, truth, tf.fill(tf.shape(truth), 2.0)))
        cumulative = tf.cumsum(tf.histogram_fixed_width(truth, [0.0, 1.0], nbins=BINS))
        wanted = tf.cast(tf.math.ceil(min_kept * tf.reduce_sum(valid)), cumulative.dtype)
        first = tf.argmax(tf.cast(cumulative >= wanted, tf.int32), output_type=tf.int32)   # the first bin holding them
        cut = tf.maximum(tf.cast(threshold, tf.float32), tf.cast(first + 1, tf.float32) / BINS)
        return tf.cast(truth < cut, tf.float32) * valid
