"""Dilation8: the front end at output stride 8 without pool4/pool5, the context module's
identity start and its 67x67 reach."""
import numpy as np
import tensorflow as tf2

from conftest import TINY_FC_DEPTH, tiny_vgg_weights
from fcnroad import models
from fcnroad.models import dilation, encoders

tf = tf2.compat.v1


def dilation_rates(graph, prefix=''):
    """{layer: [rate, rate]} of every conv layer: a dilated one runs as space-to-batch by its rate."""
    rates = {op.name.split('/')[0]: [1, 1] for op in graph.get_operations()
             if op.type == 'Conv2D' and op.name.startswith(prefix)}
    for op in graph.get_operations():
        if op.type == 'SpaceToBatchND' and op.name.startswith(prefix):
            rates[op.name.split('/')[0]] = [int(r) for r in tf2.get_static_value(op.inputs[1])]
    return rates


def test_front_end_has_output_stride_8_no_pool4_or_pool5_and_dilated_conv5_and_7x7_fc6():
    with tf.Graph().as_default() as graph, tf.Session() as sess:
        images = tf.placeholder(tf.float32, [None, None, None, 3])
        endpoints = models.ENCODERS['vgg16_dilation'].build(images, tf.constant(1.0), tiny_vgg_weights())
        sess.run(tf.global_variables_initializer())
        for h, w in ((64, 96), (72, 104)):
            fc7, conv4 = sess.run([endpoints['fc7'], endpoints['conv4']], {images: np.zeros((1, h, w, 3))})
            assert fc7.shape[1:3] == conv4.shape[1:3] == (-(-h // 8), -(-w // 8))
        rates = dilation_rates(graph)
        fc6 = [v for v in tf.global_variables() if v.op.name == 'fc6/weights'][0]
    assert 'pool3' in endpoints and 'pool4' not in endpoints and 'pool5' not in endpoints
    assert not [op for op in graph.get_operations() if op.name.startswith(('pool4', 'pool5'))]
    assert rates['conv5_1'] == rates['conv5_3'] == [encoders.DILATION_CONV5_RATE] * 2
    assert rates['fc6'] == [encoders.DILATION_FC6_RATE] * 2
    assert rates['conv4_3'] == rates['fc7'] == [1, 1]
    assert fc6.shape.as_list()[:2] == [7, 7]
    assert endpoints['fc7'].shape[-1] == TINY_FC_DEPTH // encoders.DILATION_FC_THINNING


def test_vggs_conv_layers_transplant_into_the_front_end_and_fc6_fc7_start_fresh():
    weights = tiny_vgg_weights()
    with tf.Graph().as_default(), tf.Session() as sess:
        images = tf.placeholder(tf.float32, [None, None, None, 3])
        models.ENCODERS['vgg16_dilation'].build(images, tf.constant(1.0), weights)
        sess.run(tf.global_variables_initializer())
        report = encoders.transplant(sess, weights)
        conv5 = sess.run([v for v in tf.global_variables() if v.op.name == 'conv5_3/weights'][0])
    assert report['dropped'] == ['fc6', 'fc7'] and report['new'] == ['fc6', 'fc7']
    np.testing.assert_array_equal(conv5, weights['conv5_3'][0])


def test_the_identity_initialised_context_module_passes_its_input_through():
    scores = np.random.RandomState(0).uniform(0, 5, (2, 20, 30, 3)).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        x = tf.placeholder(tf.float32, [None, None, None, 3])
        out = dilation.context_module(x)
        sess.run(tf.global_variables_initializer())
        passed = sess.run(out, {x: scores})
        truncated = sess.run(out, {x: -scores})
    np.testing.assert_allclose(passed, scores, atol=1e-5)
    np.testing.assert_array_equal(truncated, 0)         # each layer's ReLU, as the authors' module


def test_the_context_module_sees_exactly_67x67():
    size, centre = 81, 40
    impulse = np.zeros((1, size, size, 2), np.float32)
    impulse[0, centre, centre] = 1
    with tf.Graph().as_default() as graph, tf.Session() as sess:
        x = tf.placeholder(tf.float32, [None, None, None, 2])
        out = dilation.context_module(x)
        sess.run(tf.global_variables_initializer())
        rng = np.random.RandomState(1)
        for v in tf.global_variables():           # positive kernels: no path is cancelled or cut by a ReLU
            if v.op.name.endswith('weights'):
                sess.run(v.assign(rng.uniform(0.5, 1.0, v.shape.as_list())))
        response = sess.run(out, {x: impulse})[0].sum(-1)
        rates = dilation_rates(graph, 'ctx_')
    reach = sum(rate for _, rate in dilation.CONTEXT_LAYERS)
    assert reach == 33 and [rates[name][0] for name, _ in dilation.CONTEXT_LAYERS] == [1, 1, 2, 4, 8, 16, 1]
    seen = response > 0
    inside = np.zeros_like(seen)
    inside[centre - reach:centre + reach + 1, centre - reach:centre + reach + 1] = True
    np.testing.assert_array_equal(seen, inside)
