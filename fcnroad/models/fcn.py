"""FCN-32s, FCN-16s and FCN-8s (Long, Shelhamer & Darrell), trained at once, and the tutorial's decoder.

Each head takes the encoder's endpoints (fc7 at stride 32, pool4 at 16, pool3 at 8) and
returns class scores at the input's size (at 8x pool3's size when 'input' is not given,
as the tutorial's layers() is called).  The layer names are the paper's, the same in
every variant, so weights copy between them by name.  Also the shared tools: the
bilinear kernel, the 1x1 score conv and the transposed-conv upsampling.
"""
import numpy as np
import tensorflow as tf2

tf = tf2.compat.v1

# FCN authors' "at-once" scaling of the skip inputs: VGG's pool3/pool4 activations
# are orders of magnitude larger than the class scores they are added to.
SCALE_POOL4 = 0.01
SCALE_POOL3 = 0.0001
# Upsampling kernels are twice the stride (bilinear interpolation over two input pixels).
UPSCORE2_KERNEL = 4


def bilinear_kernel(size, channels):
    """Transposed-conv kernel that upsamples each channel bilinearly (FCN's initialisation)."""
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    og = np.ogrid[:size, :size]
    filt = (1 - abs(og[0] - center) / factor) * (1 - abs(og[1] - center) / factor)
    kernel = np.zeros((size, size, channels, channels), np.float32)
    kernel[:, :, range(channels), range(channels)] = filt[:, :, None]
    return kernel


def l2_regularizer(scale):
    return (lambda w: scale * tf.nn.l2_loss(w)) if scale else None


def conv1x1(x, depth, name, l2, initializer):
    with tf.variable_scope(name):
        kernel = tf.get_variable('weights', [1, 1, x.shape[-1], depth], initializer=initializer,
                                 regularizer=l2_regularizer(l2))
        bias = tf.get_variable('biases', [depth], initializer=tf.zeros_initializer())
    return tf.nn.bias_add(tf.nn.conv2d(x, kernel, 1, 'SAME'), bias, name=name)


def upsample(x, like, depth, kernel_size, stride, name, l2, initializer):
    """Transposed conv to `depth` channels at the spatial size of `like` (or stride x x)."""
    with tf.variable_scope(name):
        kernel = tf.get_variable('weights', [kernel_size, kernel_size, depth, x.shape[-1]],
                                 initializer=initializer, regularizer=l2_regularizer(l2))
        bias = tf.get_variable('biases', [depth], initializer=tf.zeros_initializer())
    shape = tf.shape(like) if like is not None else tf.shape(x) * [1, stride, stride, 1]
    out_shape = tf.stack([shape[0], shape[1], shape[2], depth])
    y = tf.nn.conv2d_transpose(x, kernel, out_shape, [1, stride, stride, 1], 'SAME')
    return tf.nn.bias_add(y, bias, name=name)


def _bilinear(size, num_classes):
    return tf.constant_initializer(bilinear_kernel(size, num_classes))


def _upscore_to_input(x, endpoints, num_classes, stride, name, l2):
    return upsample(x, endpoints.get('input'), num_classes, 2 * stride, stride, name, l2,
                    _bilinear(2 * stride, num_classes))


def _fuse_pool4(endpoints, num_classes, l2):
    """score_fr (stride 32) upsampled 2x plus pool4's scores: the stride-16 scores."""
    zeros = tf.zeros_initializer()
    score_fr = conv1x1(endpoints['fc7'], num_classes, 'score_fr', l2, zeros)
    upscore2 = upsample(score_fr, endpoints['pool4'], num_classes, UPSCORE2_KERNEL, 2, 'upscore2', l2,
                        _bilinear(UPSCORE2_KERNEL, num_classes))
    score_pool4 = conv1x1(endpoints['pool4'] * SCALE_POOL4, num_classes, 'score_pool4', l2, zeros)
    return tf.add(upscore2, score_pool4, name='fuse_pool4')


def fcn32s(endpoints, num_classes, l2=0.0, training=None):
    """Class scores of fc7 (stride 32), upsampled 32x."""
    score_fr = conv1x1(endpoints['fc7'], num_classes, 'score_fr', l2, tf.zeros_initializer())
    return _upscore_to_input(score_fr, endpoints, num_classes, 32, 'upscore32', l2)


def fcn16s(endpoints, num_classes, l2=0.0, training=None):
    """fc7's scores upsampled 2x and fused with pool4's, upsampled 16x."""
    return _upscore_to_input(_fuse_pool4(endpoints, num_classes, l2), endpoints, num_classes, 16, 'upscore16', l2)


def fcn8s(endpoints, num_classes, l2=0.0, training=None):
    """FCN-16s' fused scores upsampled 2x and fused with pool3's, upsampled 8x."""
    fuse_pool4 = _fuse_pool4(endpoints, num_classes, l2)
    upscore_pool4 = upsample(fuse_pool4, endpoints['pool3'], num_classes, UPSCORE2_KERNEL, 2, 'upscore_pool4', l2,
                             _bilinear(UPSCORE2_KERNEL, num_classes))
    score_pool3 = conv1x1(endpoints['pool3'] * SCALE_POOL3, num_classes, 'score_pool3', l2, tf.zeros_initializer())
    fuse_pool3 = tf.add(upscore_pool4, score_pool3, name='fuse_pool3')
    return _upscore_to_input(fuse_pool3, endpoints, num_classes, 8, 'upscore8', l2)


def fcn_squeezenet(endpoints, num_classes, l2=0.0, training=None):
    """FCN-8s' skips one octave finer, on SqueezeNet 1.1 (stride 16 at its end): fire9's scores
    upsampled 2x and fused with fire5's (stride 8), again with fire3's (stride 4), upsampled 4x."""
    zeros = tf.zeros_initializer()
    score_fire9 = conv1x1(endpoints['fire9'], num_classes, 'score_fire9', l2, zeros)
    fused = score_fire9
    for skip in ('fire5', 'fire3'):
        up = upsample(fused, endpoints[skip], num_classes, UPSCORE2_KERNEL, 2, 'upscore_to_' + skip, l2,
                      _bilinear(UPSCORE2_KERNEL, num_classes))
        fused = tf.add(up, conv1x1(endpoints[skip], num_classes, 'score_' + skip, l2, zeros), name='fuse_' + skip)
    return _upscore_to_input(fused, endpoints, num_classes, 4, 'upscore4', l2)


def fcn8s_tutorial(endpoints, num_classes, l2=0.0, training=None):
    """The tutorial's decoder as written: class scores widened back to pool4's and pool3's
    depth and added to the raw pool outputs, random-normal initialisation."""
    normal = tf.random_normal_initializer(stddev=0.01)
    pool3, pool4 = endpoints['pool3'], endpoints['pool4']
    score_fr = conv1x1(endpoints['fc7'], num_classes, 'score_fr', l2, normal)
    upscore2 = upsample(score_fr, pool4, pool4.shape[-1], UPSCORE2_KERNEL, 2, 'upscore2', l2, normal)
    fuse_pool4 = tf.add(upscore2, pool4, name='fuse_pool4')
    upscore_pool4 = upsample(fuse_pool4, pool3, pool3.shape[-1], UPSCORE2_KERNEL, 2, 'upscore_pool4', l2, normal)
    fuse_pool3 = tf.add(upscore_pool4, pool3, name='fuse_pool3')
    return upsample(fuse_pool3, endpoints.get('input'), num_classes, 16, 8, 'upscore8', l2, normal)
