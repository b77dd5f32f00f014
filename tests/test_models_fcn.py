"""FCN-32s/16s/8s: the paper's layer names per variant, bilinear upsampling, the tutorial's trunk."""
import numpy as np
import pytest
import tensorflow as tf2

import main
from fcnroad import models
from fcnroad.models import vgg
from conftest import TINY_DEPTH_SCALE, TINY_FC_DEPTH, tiny_vgg_weights
from fcnroad.models import encoders, fcn

tf = tf2.compat.v1

DECODER_LAYERS = {
    'fcn32s': {'score_fr', 'upscore32'},
    'fcn16s': {'score_fr', 'upscore2', 'score_pool4', 'upscore16'},
    'fcn8s': {'score_fr', 'upscore2', 'score_pool4', 'upscore_pool4', 'score_pool3', 'upscore8'},
}
UPSAMPLING_KERNELS = {'upscore2': 4, 'upscore_pool4': 4, 'upscore8': 16, 'upscore16': 32, 'upscore32': 64}


def test_bilinear_kernel_upsamples_a_constant_to_a_constant():
    with tf.Graph().as_default(), tf.Session() as sess:
        x = tf.ones((1, 4, 4, 2))
        k = tf.constant(fcn.bilinear_kernel(16, 2))
        y = sess.run(tf.nn.conv2d_transpose(x, k, (1, 32, 32, 2), [1, 8, 8, 1], 'SAME'))
    np.testing.assert_allclose(y[0, 8:24, 8:24], 1.0, rtol=1e-6)   # away from the border


@pytest.mark.parametrize('name', sorted(DECODER_LAYERS))
def test_each_variant_has_the_papers_layers_and_kernel_sizes(name):
    with tf.Graph().as_default():
        images = tf.placeholder(tf.float32, [None, None, None, 3])
        models.build(name, images, tf.constant(1.0), tiny_vgg_weights(), 2)
        decoder = {v.op.name.split('/')[1]: v for v in tf.global_variables()
                   if v.op.name.startswith(models.DECODER_SCOPE + '/') and v.op.name.endswith('/weights')}
    assert set(decoder) == DECODER_LAYERS[name]
    for layer, size in UPSAMPLING_KERNELS.items():
        if layer in decoder:
            assert decoder[layer].shape.as_list() == [size, size, 2, 2]


def test_in_graph_vgg16_is_the_tutorials_frozen_vgg16(tiny_vgg_pretrained):
    """The families' encoder, given the SavedModel's weights, computes load_vgg's pool3/pool4."""
    image = np.random.RandomState(3).uniform(0, 255, (1, 64, 96, 3)).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        image_input, keep_prob, layer3, layer4, _ = main.load_vgg(sess, tiny_vgg_pretrained)
        want = sess.run([layer3, layer4], {image_input: image})
        saved = {v.op.name.split('/')[0] for v in tf.get_collection(encoders.PRETRAINED_VARIABLES)}
    assert saved == set(vgg.conv_layer_names())           # fc6/fc7 are vgg.py's fresh ones
    weights = encoders.read_vgg_saved_model(tiny_vgg_pretrained)
    with tf.Graph().as_default(), tf.Session() as sess:
        images = tf.placeholder(tf.float32, [None, None, None, 3])
        endpoints = encoders.vgg16(images, tf.constant(1.0), weights)
        sess.run(tf.global_variables_initializer())
        report = encoders.transplant(sess, weights)
        got = sess.run([endpoints['pool3'], endpoints['pool4']], {images: image})
    assert report['copied'] == sorted(vgg.conv_layer_names()) and report['new'] == ['fc6', 'fc7']
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5 * np.abs(w).max())


def test_tutorial_layers_are_the_registrys_fcn8s_head():
    """layers() and models' fcn8s make the same decoder variables (names and shapes)."""
    shapes = vgg.expected_shapes(fc_depth=TINY_FC_DEPTH, depth_scale=TINY_DEPTH_SCALE)
    with tf.Graph().as_default():
        l3 = tf.placeholder(tf.float32, [None, None, None, shapes['conv3_3'][1][0]])
        l4 = tf.placeholder(tf.float32, [None, None, None, shapes['conv4_3'][1][0]])
        l7 = tf.placeholder(tf.float32, [None, None, None, TINY_FC_DEPTH])
        main.layers(l3, l4, l7, 2)
        tutorial = {v.op.name: v.shape.as_list() for v in tf.global_variables()}
    with tf.Graph().as_default():
        models.build('fcn8s', tf.placeholder(tf.float32, [None, None, None, 3]), tf.constant(1.0),
                     tiny_vgg_weights(), 2)
        registry = {v.op.name: v.shape.as_list() for v in tf.global_variables()
                    if v.op.name.startswith(models.DECODER_SCOPE + '/')}
    assert tutorial == registry


def test_fcn_squeezenet_fuses_fire5_and_fire3_and_sees_each_skip():
    """FCN on SqueezeNet: the paper's skip names one octave finer; each score layer reaches the output."""
    from conftest import tiny_weights
    from fcnroad.models import encoders
    weights = tiny_weights('fcn_squeezenet')
    with tf.Graph().as_default(), tf.Session() as sess:
        images = tf.placeholder(tf.float32, [None, None, None, 3])
        scores = models.build('fcn_squeezenet', images, tf.constant(1.0), weights, 2)
        decoder = {v.op.name.split('/')[1]: v for v in tf.global_variables()
                   if v.op.name.startswith(models.DECODER_SCOPE + '/') and v.op.name.endswith('/weights')}
        assert set(decoder) == {'score_fire9', 'upscore_to_fire5', 'score_fire5', 'upscore_to_fire3', 'score_fire3',
                                'upscore4'}
        assert decoder['upscore4'].shape.as_list() == [8, 8, 2, 2]
        x = np.random.RandomState(0).uniform(0, 255, (1, 64, 96, 3))
        reach = {}
        for layer in ('score_fire9', 'score_fire5', 'score_fire3'):
            sess.run(tf.global_variables_initializer())
            # The fixed tiny encoder, as training transplants it: a random start (no graph seed) left every
            # unit of fire9 off after its ReLU once in CI, and score_fire9 unheard.
            assert len(encoders.transplant(sess, weights)['copied']) == len(weights)
            decoder[layer].load(np.random.RandomState(1).normal(0, 1, decoder[layer].shape.as_list()), sess)
            reach[layer] = np.abs(sess.run(scores, {images: x})).max()
    assert all(v > 0 for v in reach.values()), reach     # zero-initialised: only the loaded layer speaks


@pytest.mark.parametrize('name', ['fcn32s', 'fcn_alexnet', 'deeplab_largefov'])
def test_fc_depth_sets_the_width_of_fresh_fc6_fc7(name):
    with tf.Graph().as_default():
        images = tf.placeholder(tf.float32, [None, None, None, 3])
        models.build(name, images, tf.constant(1.0), {}, 2, fc_depth=64)
        fc7 = {v.op.name: v.shape.as_list() for v in tf.global_variables()}['fc7/weights']
    thinning = encoders.DENSE_TRUNKS['largefov'].fc_thinning if name == 'deeplab_largefov' else 1
    assert fc7 == [1, 1, 64 // thinning, 64 // thinning]


def test_only_the_families_with_fc6_fc7_have_them():
    assert models.has_fc_layers('fcn8s') and models.has_fc_layers('fcn_alexnet')
    assert not models.has_fc_layers('segnet') and not models.has_fc_layers('lraspp_lite0')
