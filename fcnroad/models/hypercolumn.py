"""Hypercolumns (Hariharan et al.): every pixel described by the activations of several VGG
stages above it, from edges (pool2) to parts (pool3, pool4) to objects (fc7), concatenated
and classified by 1x1 convs.

Each stage is L2-normalised per pixel and given a learnt scale (ParseNet's fix for stages
whose activations differ by orders of magnitude), resized to pool3's grid (stride 8),
concatenated, classified by `hyper_fc` (1x1, ReLU) and `score` (1x1), and upsampled
bilinearly to the input's size.
"""
import tensorflow as tf2

from fcnroad.models.fcn import conv1x1

tf = tf2.compat.v1

STAGES = ('pool2', 'pool3', 'pool4', 'fc7')
GRID = 'pool3'
STAGE_SCALE = 20.0         # the normalised stages' initial scale (ParseNet, SSD)
HYPER_FC_DEPTH = 512


def hypercolumn(endpoints, num_classes, l2=0.0, training=None):
    grid = tf.shape(endpoints[GRID])[1:3]
    columns = []
    for stage in STAGES:
        x = endpoints[stage]
        with tf.variable_scope('norm_' + stage):
            scale = tf.get_variable('scale', [x.shape[-1]], initializer=tf.constant_initializer(STAGE_SCALE))
        x = tf.math.l2_normalize(x, axis=-1) * scale
        columns.append(tf2.image.resize(x, grid, method='bilinear', name='resize_' + stage))
    hyper = tf.concat(columns, axis=-1, name='hypercolumn')
    hyper_fc = tf.nn.relu(conv1x1(hyper, HYPER_FC_DEPTH, 'hyper_fc', l2,
                                  tf.variance_scaling_initializer(2.0, 'fan_in', 'truncated_normal')))
    score = conv1x1(hyper_fc, num_classes, 'score', l2, tf.zeros_initializer())
    return tf2.image.resize(score, tf.shape(endpoints['input'])[1:3], method='bilinear', name='upscore8')
