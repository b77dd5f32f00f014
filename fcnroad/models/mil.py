"""Learning from image-level labels (Pinheiro and Collobert, From Image-level to Pixel-level
Labeling with Convolutional Networks, CVPR 2015): multiple-instance learning over pixels.

`main.py --supervision image-labels`: the network's per-pixel class scores are pooled into
one score per class and image by Log-Sum-Exp,

    s_k = 1/r * log( mean over pixels of exp(r * score_k(pixel)) ),

which moves from the mean (r -> 0) to the maximum (r -> inf), so every pixel gets some
gradient while the pixels that decide the class get most.  The loss sees only which classes
each training image holds (main.optimize derives that from the masks, which nothing else
reads).  At inference the image-level prior multiplies each pixel's class probabilities by
the probability that the image holds the class at all (the paper's ILP); `--crf` adds the
smoothing (the paper's superpixel prior is replaced by the dense CRF the project has).
"""
import tensorflow as tf2

tf = tf2.compat.v1

SUPERVISION = 'image-labels'
LSE_R = 5.0            # the pooling's sharpness (--lse-r)


def lse_pool(scores, r):
    """[N, C] Log-Sum-Exp pooled image scores of per-pixel scores [N, H, W, C]."""
    n_pixels = tf.cast(tf.shape(scores)[1] * tf.shape(scores)[2], scores.dtype)
    return (tf.reduce_logsumexp(r * scores, axis=[1, 2]) - tf.math.log(n_pixels)) / r


def classes_present(correct_label):
    """[N, C]: 1 where a one-hot label map [N, H, W, C] has the class anywhere (ignored pixels are all-zero)."""
    return tf.reduce_max(correct_label, axis=[1, 2])


def image_label_loss(scores, correct_label, r):
    """[N] per-image loss: each class's sigmoid cross-entropy of its pooled score against its presence."""
    present = tf.stop_gradient(classes_present(correct_label))
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=present, logits=lse_pool(scores, r)),
                          axis=1)


def probabilities_with_image_prior(scores, r, name='probabilities'):
    """Per-pixel class probabilities times each class's image-level probability, renormalised."""
    prior = tf.sigmoid(lse_pool(scores, r))[:, None, None, :]
    joint = tf.nn.softmax(scores) * prior
    return tf.divide(joint, tf.maximum(tf.reduce_sum(joint, axis=-1, keepdims=True), 1e-12), name=name)
