"""SegNet (Badrinarayanan, Kendall & Cipolla): the VGG16 encoder keeps where each max pool
took its maximum, and a mirrored decoder puts values back there (max-unpooling), then
densifies the sparse maps with 3x3 conv + batch norm + ReLU, block by block.

Needs the encoder with `pooling_indices=True` and no fc6/fc7: endpoints conv1..conv5
(before each pool), pool5 and argmax1..argmax5.  Decoder layers are named as in the
authors' Caffe model: upsample5, conv5_3_D, ..., conv1_1_D (the classifier).
"""
import tensorflow as tf2

from fcnroad.models import vgg
from fcnroad.models.fcn import l2_regularizer

tf = tf2.compat.v1

BN_DECAY = 0.9         # moving-average decay of the batch-norm statistics used at inference
BN_EPSILON = 1e-5


def unpool(x, argmax, like, name):
    """Max-unpooling: each value of x goes back to the position (flat, batch included) its pool
    took it from, in a zero tensor shaped like `like`."""
    with tf.name_scope(name):
        shape = tf.shape(like, out_type=tf.int64)
        flat = tf.scatter_nd(tf.reshape(argmax, [-1, 1]), tf.reshape(x, [-1]), [tf.reduce_prod(shape)])
        out = tf.reshape(flat, shape)
    out.set_shape(like.shape)
    return out


def batch_norm(x, training, name):
    """Batch norm: batch statistics while training (updating the moving averages), the averages after."""
    depth = x.shape[-1]
    with tf.variable_scope(name):
        gamma = tf.get_variable('gamma', [depth], initializer=tf.ones_initializer())
        beta = tf.get_variable('beta', [depth], initializer=tf.zeros_initializer())
        # Mirrored over devices (main.py --distribute), the replicas' updates are averaged.
        moving_mean = tf.get_variable('moving_mean', [depth], initializer=tf.zeros_initializer(), trainable=False,
                                      aggregation=tf.VariableAggregation.MEAN)
        moving_variance = tf.get_variable('moving_variance', [depth], initializer=tf.ones_initializer(),
                                          trainable=False, aggregation=tf.VariableAggregation.MEAN)
    if tf2.distribute.has_strategy():
        return _replicated_batch_norm(x, training, gamma, beta, moving_mean, moving_variance)

    def batch_statistics():
        mean, variance = tf.nn.moments(x, [0, 1, 2])
        updates = [tf.assign(moving_mean, BN_DECAY * moving_mean + (1 - BN_DECAY) * mean),
                   tf.assign(moving_variance, BN_DECAY * moving_variance + (1 - BN_DECAY) * variance)]
        with tf.control_dependencies(updates):
            return tf.identity(mean), tf.identity(variance)

    mean, variance = tf.cond(tf.convert_to_tensor(training), batch_statistics,
                             lambda: (tf.identity(moving_mean), tf.identity(moving_variance)))
    return tf.nn.batch_normalization(x, mean, variance, beta, gamma, BN_EPSILON)


def _replicated_batch_norm(x, training, gamma, beta, moving_mean, moving_variance):
    """batch_norm without tf.cond, whose branches cannot hold a strategy's cross-replica update:
    each replica normalises with its share's statistics; the moving averages move by the
    replicas' mean (not at all at inference, where the rate is 0)."""
    on = tf.cast(tf.convert_to_tensor(training), x.dtype)
    mean, variance = tf.nn.moments(x, [0, 1, 2])
    rate = (1 - BN_DECAY) * on
    updates = [moving_mean.assign_sub(rate * (moving_mean - mean)),
               moving_variance.assign_sub(rate * (moving_variance - variance))]
    with tf.control_dependencies(updates):
        mean = on * mean + (1 - on) * tf.identity(moving_mean)
        variance = on * variance + (1 - on) * tf.identity(moving_variance)
    return tf.nn.batch_normalization(x, mean, variance, beta, gamma, BN_EPSILON)


def conv_bn_relu(x, depth, name, training, l2):
    with tf.variable_scope(name):
        kernel = tf.get_variable('weights', [3, 3, x.shape[-1], depth],
                                 initializer=tf.variance_scaling_initializer(2.0, 'fan_in', 'truncated_normal'),
                                 regularizer=l2_regularizer(l2))
        bias = tf.get_variable('biases', [depth], initializer=tf.zeros_initializer())
        y = tf.nn.bias_add(tf.nn.conv2d(x, kernel, 1, 'SAME'), bias)
        y = batch_norm(y, training, 'bn')
    return tf.nn.relu(y, name=name + '_relu')


def segnet(endpoints, num_classes, l2=0.0, training=False):
    """Decoder blocks 5..1, each: unpool with the encoder's indices, then its convs mirrored
    (the last conv of a block narrows to the depth the encoder block started from)."""
    x = endpoints['pool5']
    for b in range(len(vgg.CONV_LAYERS), 0, -1):
        x = unpool(x, endpoints['argmax%d' % b], endpoints['conv%d' % b], 'upsample%d' % b)
        names = [name for name, _, _ in vgg.CONV_LAYERS[b - 1]][::-1]
        depth = int(endpoints['conv%d' % b].shape[-1])
        narrow = int(endpoints['conv%d' % (b - 1)].shape[-1]) if b > 1 else None
        for i, name in enumerate(names):
            last = i == len(names) - 1
            if last and narrow is None:
                with tf.variable_scope(name + '_D'):
                    kernel = tf.get_variable('weights', [3, 3, x.shape[-1], num_classes],
                                             initializer=tf.variance_scaling_initializer(1.0, 'fan_in'),
                                             regularizer=l2_regularizer(l2))
                    bias = tf.get_variable('biases', [num_classes], initializer=tf.zeros_initializer())
                return tf.nn.bias_add(tf.nn.conv2d(x, kernel, 1, 'SAME'), bias, name='conv1_1_D')
            x = conv_bn_relu(x, narrow if last else depth, name + '_D', training, l2)
    raise AssertionError('unreachable: block 1 returns the classifier')
