"""DeepLab-LargeFOV: output stride 8 through dilation, the thinned fc6/fc7 start fresh."""
import numpy as np
import tensorflow as tf2

from conftest import TINY_FC_DEPTH, tiny_vgg_weights
from fcnroad import models
from fcnroad.models import encoders

tf = tf2.compat.v1


def test_largefov_encoder_has_output_stride_8_and_dilated_conv5_fc6():
    with tf.Graph().as_default(), tf.Session() as sess:
        images = tf.placeholder(tf.float32, [None, None, None, 3])
        endpoints = models.ENCODERS['vgg16_largefov'].build(images, tf.constant(1.0), tiny_vgg_weights())
        plain = {}
        with tf.variable_scope('plain'):
            plain = encoders.vgg16(images, tf.constant(1.0), tiny_vgg_weights())
        sess.run(tf.global_variables_initializer())
        for h, w in ((64, 96), (72, 104)):
            fc7, fc7_plain = sess.run([endpoints['fc7'], plain['fc7']], {images: np.zeros((1, h, w, 3))})
            assert fc7.shape[1:3] == (-(-h // 8), -(-w // 8))
            assert fc7_plain.shape[1:3] == (-(-h // 32), -(-w // 32))
        graph = tf.get_default_graph()
        # A dilated layer runs as space-to-batch (its block shape is the rate) around a plain Conv2D.
        layers = {op.name.split('/')[0] for op in graph.get_operations()
                  if op.type == 'Conv2D' and not op.name.startswith('plain')}
        rates = {name: [1, 1] for name in layers}
        for op in graph.get_operations():
            if op.type == 'SpaceToBatchND' and not op.name.startswith('plain'):
                rates[op.name.split('/')[0]] = [int(r) for r in tf2.get_static_value(op.inputs[1])]
    assert rates['conv5_1'] == rates['conv5_3'] == [encoders.LARGEFOV_CONV5_RATE] * 2
    assert rates['fc6'] == [encoders.LARGEFOV_FC6_RATE] * 2
    assert rates['conv4_3'] == rates['fc7'] == [1, 1]
    assert endpoints['fc7'].shape[-1] == TINY_FC_DEPTH // encoders.LARGEFOV_FC_THINNING


def test_vggs_fc6_does_not_fit_largefov_and_is_reported_dropped():
    weights = tiny_vgg_weights()                     # with VGG-shaped (7x7) fc6 and fc7
    with tf.Graph().as_default(), tf.Session() as sess:
        images = tf.placeholder(tf.float32, [None, None, None, 3])
        models.ENCODERS['vgg16_largefov'].build(images, tf.constant(1.0), weights)
        sess.run(tf.global_variables_initializer())
        report = encoders.transplant(sess, weights)
        conv5 = sess.run([v for v in tf.global_variables() if v.op.name == 'conv5_3/weights'][0])
    assert report['dropped'] == ['fc6', 'fc7'] and report['new'] == ['fc6', 'fc7']
    assert 'conv5_3' in report['copied']
    np.testing.assert_array_equal(conv5, weights['conv5_3'][0])
