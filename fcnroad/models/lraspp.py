"""LR-ASPP (Howard et al., Searching for MobileNetV3): the light segmentation head.

Two branches on the encoder's last features (stride 16): a 1x1 conv + ReLU, and a global
average pool + 1x1 conv + sigmoid that gates it channel by channel; the gated
features are upsampled bilinearly to the stride-8 features, both are scored by a 1x1 conv
and the sum is upsampled bilinearly to the input.  No transposed convolutions.  The paper's
batch norm after the 1x1 conv is a bias here: batches of 4 give noisy statistics, and the
encoder's batch norms are frozen (folded) for the same reason.
"""
import tensorflow as tf2

from fcnroad.models import fcn

tf = tf2.compat.v1

LRASPP_DEPTH = 128      # the paper's (and torchvision's) inter-channel depth
HIGH, LOW = 'head', 'stride8'


def lraspp(endpoints, num_classes, l2=0.0, training=False, depth=LRASPP_DEPTH):
    """Class scores at the input's size from endpoints['head'] (stride 16) and ['stride8']."""
    high, low = endpoints[HIGH], endpoints[LOW]
    regularizer = fcn.l2_regularizer(l2)
    he = tf.variance_scaling_initializer(2.0, 'fan_in', 'truncated_normal')
    with tf.variable_scope('aspp_conv'):
        kernel = tf.get_variable('weights', [1, 1, high.shape[-1], depth], initializer=he, regularizer=regularizer)
        bias = tf.get_variable('biases', [depth], initializer=tf.zeros_initializer())
        features = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(high, kernel, 1, 'SAME'), bias))
    with tf.variable_scope('aspp_gate'):
        pooled = tf.reduce_mean(high, axis=[1, 2], keepdims=True)
        kernel = tf.get_variable('weights', [1, 1, high.shape[-1], depth], initializer=he, regularizer=regularizer)
        gate = tf.sigmoid(tf.nn.conv2d(pooled, kernel, 1, 'SAME'), name='gate')
    gated = tf.multiply(features, gate, name='gated')
    upsampled = tf.image.resize(gated, tf.shape(low)[1:3], method='bilinear', name='upsample_gated')
    zeros = tf.zeros_initializer()
    score_high = fcn.conv1x1(upsampled, num_classes, 'score_high', l2, zeros)
    score_low = fcn.conv1x1(low, num_classes, 'score_low', l2, zeros)
    fused = tf.add(score_high, score_low, name='fuse_low')
    size = tf.shape(endpoints['input'])[1:3]
    return tf.image.resize(fused, size, method='bilinear', name='upscore8')
