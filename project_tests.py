"""The tutorial's per-function checks.

Called the original way from main.py (`tests.test_layers(layers)`, ...) and
collected by pytest, which supplies the functions as fixtures (conftest.py).
Each check builds its graph in a fresh tf.Graph so it leaves nothing behind.
"""
import contextlib
import functools
import io
import os
import warnings
from unittest import mock

import numpy as np
import tensorflow as tf2

from fcnroad.data import kitti_road

tf = tf2.compat.v1
tf2.get_logger().setLevel('ERROR')    # disable_v2_behavior's deprecation notice is noise here
tf.disable_v2_behavior()



def test_safe(func):  # the source's name; not a test itself
    """Run the check in a fresh graph and say that it passed, as the source did."""
    @functools.wraps(func)
    def run_in_graph(*args, **kwargs):
        with tf.Graph().as_default():
            result = func(*args, **kwargs)
        print('Tests Passed')
        return result
    return run_in_graph


test_safe.__test__ = False  # pytest: a decorator, not a test


def _assert_tensor_shape(tensor, shape, display_name):
    assert tensor.shape.rank is not None, '{} has unknown rank'.format(display_name)
    tensor_shape = tensor.shape.as_list() if len(shape) else []
    wrong = [(i, dim, want) for i, (dim, want) in enumerate(zip(tensor_shape, shape)) if dim != want]
    assert not wrong and len(tensor_shape) == len(shape), \
        '{} has wrong shape.  Found {}, expected {}'.format(display_name, tensor_shape, shape)


@test_safe
def test_load_vgg(load_vgg, tf_module):
    with mock.patch.object(tf_module.saved_model.loader, 'load') as mock_load_model:
        vgg_path = ''
        sess = tf.Session()
        test_input_image = tf.placeholder(tf.float32, name='image_input')
        test_keep_prob = tf.placeholder(tf.float32, name='keep_prob')
        test_vgg_layer3_out = tf.placeholder(tf.float32, name='layer3_out')
        test_vgg_layer4_out = tf.placeholder(tf.float32, name='layer4_out')
        test_vgg_layer7_out = tf.placeholder(tf.float32, name='layer7_out')

        input_image, keep_prob, vgg_layer3_out, vgg_layer4_out, vgg_layer7_out = load_vgg(sess, vgg_path)

        assert mock_load_model.called, 'tf.saved_model.loader.load() not called'
        assert mock_load_model.call_args == mock.call(sess, ['vgg16'], vgg_path), \
            'tf.saved_model.loader.load() called with wrong arguments.'
        assert input_image is test_input_image, 'input_image is the wrong object'
        assert keep_prob is test_keep_prob, 'keep_prob is the wrong object'
        assert vgg_layer3_out is test_vgg_layer3_out, 'layer3_out is the wrong object'
        assert vgg_layer4_out is test_vgg_layer4_out, 'layer4_out is the wrong object'
        assert vgg_layer7_out is test_vgg_layer7_out, 'layer7_out is the wrong object'
        sess.close()


@test_safe
def test_layers(layers):
    num_classes = 2
    vgg_layer3_out = tf.placeholder(tf.float32, [None, None, None, 256])
    vgg_layer4_out = tf.placeholder(tf.float32, [None, None, None, 512])
    vgg_layer7_out = tf.placeholder(tf.float32, [None, None, None, 4096])
    layers_output = layers(vgg_layer3_out, vgg_layer4_out, vgg_layer7_out, num_classes)

    _assert_tensor_shape(layers_output, [None, None, None, num_classes], 'Layers Output')
    # Beyond the source: a 160x576 image's VGG outputs decode to a 160x576 score map.
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = sess.run(layers_output, {vgg_layer3_out: np.ones((1, 20, 72, 256)),
                                       vgg_layer4_out: np.ones((1, 10, 36, 512)),
                                       vgg_layer7_out: np.ones((1, 5, 18, 4096))})
    assert out.shape == (1, 160, 576, num_classes), 'Layers Output is %s for a 160x576 input' % (out.shape,)


@test_safe
def test_optimize(optimize):
    num_classes = 10
    layers_output = tf.Variable(tf.zeros([2, 2, 3, num_classes]))
    correct_label = tf.placeholder(tf.float32, [None, None, None, num_classes])
    learning_rate = tf.placeholder(tf.float32)
    logits, train_op, cross_entropy_loss = optimize(layers_output, correct_label, learning_rate, num_classes)

    _assert_tensor_shape(logits, [2 * 3 * 2, num_classes], 'Logits')

    shape = layers_output.shape.as_list()
    label = np.arange(np.prod(shape)).reshape(shape)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run([train_op], {correct_label: label, learning_rate: 10})
        test, loss = sess.run([layers_output, cross_entropy_loss], {correct_label: label})

    assert test.min() != 0 or test.max() != 0, 'Training operation not changing weights.'


@test_safe
def test_train_nn(train_nn):
    epochs = 1
    batch_size = 2

    def get_batches_fn(batach_size_parm):
        shape = [batach_size_parm, 2, 3, 3]
        return np.arange(np.prod(shape)).reshape(shape)

    train_op = tf.constant(0)
    cross_entropy_loss = tf.constant(10.11)
    input_image = tf.placeholder(tf.float32, name='input_image')
    correct_label = tf.placeholder(tf.float32, name='correct_label')
    keep_prob = tf.placeholder(tf.float32, name='keep_prob')
    learning_rate = tf.placeholder(tf.float32, name='learning_rate')
    with tf.Session() as sess, contextlib.redirect_stdout(io.StringIO()):   # its epoch line is not the training's
        history = train_nn(sess, epochs, batch_size, get_batches_fn, train_op, cross_entropy_loss,
                           input_image, correct_label, keep_prob, learning_rate)
    assert len(history) == epochs and np.isclose(history[0], 10.11), \
        'train_nn reported %s, expected one epoch of loss 10.11' % (history,)


def test_for_kitti_dataset(data_dir):
    """Data is there; a count that differs from the official set is said loudly, not fatal."""
    kitti_dataset_path = os.path.join(data_dir, 'data_road')
    counts = kitti_road.kitti_counts(kitti_dataset_path)
    assert any(counts.values()), 'Kitti dataset not found. Extract Kitti dataset in {}'.format(
        kitti_dataset_path)
    assert counts['training/image_2'] and counts['training/gt_image_2 (road)'], \
        'Kitti training images or road masks not found in {}'.format(kitti_dataset_path)
    differ = ['%s: %d (official %d)' % (k, counts[k], n) for k, n in kitti_road.KITTI_OFFICIAL_COUNTS.items()
              if counts[k] != n]
    if differ:
        warnings.warn('{} is not the full KITTI Road set: {}. Training and evaluation go on with '
                      'the files that are there.'.format(kitti_dataset_path, '; '.join(differ)))
    print('Tests Passed')
