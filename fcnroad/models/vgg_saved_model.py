"""The tutorial's VGG16 SavedModel, written: encoders.vgg16's graph behind the tutorial's tensor names,
filled with the ImageNet weights vgg.py finds.

    python -m fcnroad.cli.build_vgg --out data/vgg
"""
import logging
import os
import shutil
import tempfile
import time

import numpy as np

from fcnroad.models import encoders, vgg

log = logging.getLogger('vgg')


def build_encoder(tf, shapes, seed=0):
    """The SavedModel's graph in tf's default graph: encoders.vgg16, the package's one VGG16 builder, behind
    the tutorial's tensor names.  `tf` is tf.compat.v1.

    Returns (tensors, variables): tensors maps the tutorial's names to tensors, variables maps layer
    name to (kernel, bias); fc6/fc7 start He-normal from `seed`.
    """
    tf.set_random_seed(seed)
    image_input = tf.placeholder(tf.float32, [None, None, None, 3], name='image_input')
    keep_prob = tf.placeholder_with_default(1.0, [], name='keep_prob')
    # Stand-ins of each layer's shape set the depths; the values are assigned after initialising.
    endpoints = encoders.vgg16(image_input, keep_prob, stand_ins(shapes))
    # Which layers hold ImageNet weights is SOURCE.txt's to say (load_vgg reads it), not the graph's.
    tf.get_default_graph().clear_collection(encoders.PRETRAINED_VARIABLES)
    found = {v.op.name: v for v in tf.global_variables()}
    variables = {name: (found[name + '/weights'], found[name + '/biases']) for name in shapes}
    tensors = {
        'image_input': image_input,
        'keep_prob': keep_prob,
        'layer3_out': tf.identity(endpoints['pool3'], name='layer3_out'),
        'layer4_out': tf.identity(endpoints['pool4'], name='layer4_out'),
        'layer7_out': tf.identity(endpoints['fc7'], name='layer7_out'),
    }
    return tensors, variables


def stand_ins(shapes):
    """{layer: (kernel, bias)} of zero-copy zero arrays of these shapes: they give a builder the layer depths
    without holding the weights' memory."""
    return {name: tuple(np.broadcast_to(np.float32(0), shape) for shape in pair) for name, pair in shapes.items()}


def assign_weights(tf, sess, variables, weights):
    """Load numpy weights into the variables without putting them in the GraphDef."""
    for name, (kernel_value, bias_value) in weights.items():
        for var, value in zip(variables[name], (kernel_value, bias_value)):
            value = np.asarray(value, np.float32)
            if tuple(var.shape.as_list()) != value.shape:
                raise vgg.WeightsError('%s: weight shape %s does not fit variable %s %s'
                                   % (name, value.shape, var.name, var.shape))
            ph = tf.placeholder(tf.float32, value.shape)
            sess.run(tf.assign(var, ph), {ph: value})


def write_saved_model(out_dir, weights, shapes=None, seed=0, source=''):
    """Write the VGG SavedModel to out_dir atomically (temp folder, then rename)."""
    import tensorflow as tf2
    tf = tf2.compat.v1
    shapes = shapes or vgg.expected_shapes()
    out_dir = os.path.abspath(out_dir)
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix='.vgg-building-', dir=parent)
    try:
        export = os.path.join(staging, 'model')
        with tf.Graph().as_default() as graph, tf.Session(graph=graph) as sess:
            _, variables = build_encoder(tf, shapes, seed)
            sess.run(tf.global_variables_initializer())
            assign_weights(tf, sess, variables, weights)
            builder = tf.saved_model.Builder(export)
            builder.add_meta_graph_and_variables(sess, [vgg.VGG_TAG])
            builder.save()
        with open(os.path.join(export, vgg.SOURCE_FILE), 'w') as f:
            fresh = sorted(set(shapes) - set(weights))
            f.write('weights: %s\n%s%s\n' % (source or 'given', vgg.FRESH_LINE, ', '.join(fresh) or 'none'))
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.replace(export, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def fc_depth(vgg_dir):
    """The width of fc6/fc7 in the complete SavedModel at vgg_dir, or None when its variables hold no
    fc7/biases (a SavedModel named otherwise)."""
    import tensorflow as tf2
    shapes = tf2.train.load_checkpoint(os.path.join(vgg_dir, 'variables', 'variables')).get_variable_to_shape_map()
    return shapes['fc7/biases'][0] if 'fc7/biases' in shapes else None


def build(out_dir, h5_path=None, cache_dir=vgg.DEFAULT_CACHE_DIR, shapes=None, fc_depth=vgg.FC_DEPTH):
    """Write the VGG16 SavedModel from the first weight source that is there.

    fc_depth: fc6/fc7's width.  Narrower than VGG's 4096 they cannot take ImageNet's fc weights and
    start fresh, as they do anyway without a Keras file holding the top layers.
    """
    start = time.time()
    weights, source = vgg.get_weights(h5_path, cache_dir, shapes)
    if fc_depth != vgg.FC_DEPTH:
        shapes = shapes or vgg.expected_shapes()
        shapes = {**shapes, **vgg.fc_shapes(shapes['conv5_3'][0][-1], fc_depth)}
        weights = {name: pair for name, pair in weights.items() if name not in ('fc6', 'fc7')}
    fresh = [n for n in ('fc6', 'fc7') if n not in weights]
    if fresh and fc_depth != vgg.FC_DEPTH:
        log.info('fc6/fc7 %d wide: freshly initialised (He-normal); ImageNet has them only at %d',
                 fc_depth, vgg.FC_DEPTH)
    elif fresh:
        log.warning('NO PRETRAINED %s: no source of ImageNet fc weights was found; they are '
                    'freshly initialised (He-normal) and learn only from your training data. '
                    'Pass --weights-h5 with Keras vgg16_weights_tf_dim_ordering_tf_kernels.h5 '
                    'to use pretrained ones.', '/'.join(n.upper() for n in fresh))
    write_saved_model(out_dir, weights, shapes, source=source)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out_dir) for f in fs)
    log.info('wrote %s (%.1f MB) in %.1f s', out_dir, size / 1e6, time.time() - start)
    return out_dir
