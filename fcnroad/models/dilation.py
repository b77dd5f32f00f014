"""Dilation8 (Yu and Koltun, Multi-Scale Context Aggregation by Dilated Convolutions): the
dilated VGG16 front end (encoders.py's 'vgg16_dilation': output stride 8, no pool4/pool5),
class scores `final` on fc7, then the basic context module: seven 3x3 convolutions of
num_classes channels dilated 1, 1, 2, 4, 8, 16, 1 (each seeing 67x67 front-end pixels by the
last) and a 1x1 `ctx_final`, upsampled bilinearly 8x.

The module starts as the identity (each kernel passes its own channel through its centre tap),
so training begins from the front end's scores and learns only what context adds.
"""
import numpy as np
import tensorflow as tf2

from fcnroad.models.fcn import conv1x1, l2_regularizer

tf = tf2.compat.v1

FINAL_STDDEV = 0.001      # the authors' Gaussian initialisation of the front end's classifier
# (layer name, dilation): the authors' names for the basic context module's 3x3 layers.
CONTEXT_LAYERS = (('ctx_conv1_1', 1), ('ctx_conv1_2', 1), ('ctx_conv2_1', 2), ('ctx_conv3_1', 4),
                  ('ctx_conv4_1', 8), ('ctx_conv5_1', 16), ('ctx_fc1', 1))


def identity_kernel(size, channels):
    """[size, size, channels, channels]: each output channel is its input channel at the centre."""
    kernel = np.zeros((size, size, channels, channels), np.float32)
    kernel[size // 2, size // 2] = np.eye(channels, dtype=np.float32)
    return kernel


def context_conv(x, name, rate, l2):
    channels = int(x.shape[-1])
    with tf.variable_scope(name):
        kernel = tf.get_variable('weights', initializer=identity_kernel(3, channels), regularizer=l2_regularizer(l2))
        bias = tf.get_variable('biases', [channels], initializer=tf.zeros_initializer())
        # Through space-to-batch, as encoders.conv: the CPU has no dilated Conv2D gradient without oneDNN.
        y = tf.nn.atrous_conv2d(x, kernel, rate, 'SAME') if rate > 1 else tf.nn.conv2d(x, kernel, 1, 'SAME')
        y = tf.nn.bias_add(y, bias)
    return tf.nn.relu(y, name=name + '_relu')


def context_module(scores, l2=0.0):
    """The basic context module on class scores [N, h, w, C]: C channels in, C out."""
    x = scores
    for name, rate in CONTEXT_LAYERS:
        x = context_conv(x, name, rate, l2)
    channels = int(scores.shape[-1])
    return conv1x1(x, channels, 'ctx_final', l2, tf.constant_initializer(identity_kernel(1, channels)))


def dilation8(endpoints, num_classes, l2=0.0, training=None):
    final = conv1x1(endpoints['fc7'], num_classes, 'final', l2, tf.random_normal_initializer(stddev=FINAL_STDDEV))
    return tf2.image.resize(context_module(final, l2), tf.shape(endpoints['input'])[1:3], method='bilinear',
                            name='upscore8')
