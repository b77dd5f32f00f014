"""fcnroad/training/network.py: the tutorial's graph when its functions are given, the in-graph family otherwise."""
import numpy as np
import tensorflow as tf2

import main
from conftest import TINY_SHAPE
from fcnroad.training import network, options

tf = tf2.compat.v1


def args_for(vgg_dir, *extra):
    args, _ = options.resolve(['--vgg-dir', vgg_dir, '--skip-checks', *extra])
    return args


def test_fcn8s_is_built_with_load_vgg_and_layers_when_the_tutorial_is_given(tiny_vgg):
    with tf.Graph().as_default(), tf.Session() as sess:
        image, keep_prob, is_training, scores, weights = network.build_network(
            sess, args_for(tiny_vgg), 2, main.TUTORIAL)
        assert scores.op.name == 'upscore8' and is_training is None and weights is None
        assert sess.graph.get_tensor_by_name('layer7_out:0') is not None   # load_vgg's imported graph
        sess.run(tf.global_variables_initializer())
        out = sess.run(scores, {image: np.zeros((1,) + TINY_SHAPE + (3,), np.float32), keep_prob: 1.0})
    assert out.shape == (1,) + TINY_SHAPE + (2,)


def test_without_the_tutorial_fcn8s_is_built_in_the_graph_from_the_same_weights(tiny_vgg_pretrained):
    with tf.Graph().as_default(), tf.Session() as sess:
        image, _, is_training, scores, weights = network.build_network(sess, args_for(tiny_vgg_pretrained), 3)
        assert scores.op.name == 'scores' and is_training is not None
        assert 'conv1_1' in weights     # ImageNet weights still to be copied in
        names = {v.op.name for v in tf.global_variables()}
        sess.run(tf.global_variables_initializer())
        out = sess.run(scores, {image: np.zeros((2,) + TINY_SHAPE + (3,), np.float32)})
    assert out.shape == (2,) + TINY_SHAPE + (3,)
    assert any('score_pool4' in n for n in names) and any('upscore8' in n for n in names)
