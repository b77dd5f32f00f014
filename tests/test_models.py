"""The registry and what every family shares: output size, a tiny overfit, initial scores."""
import numpy as np
import pytest
import tensorflow as tf2

import main
from fcnroad import models
from conftest import tiny_weights

tf = tf2.compat.v1
NAMES = list(models.MODELS)


def build(name, num_classes=3, shape=(None, None, None, 3), seed=0):
    images = tf.placeholder(tf.float32, shape)
    keep_prob = tf.placeholder_with_default(1.0, [])
    training = tf.placeholder_with_default(False, [])
    scores = models.build(name, images, keep_prob, tiny_weights(name, seed), num_classes, training)
    return images, keep_prob, training, scores


def test_every_family_stands_on_one_record_of_the_encoder_table_which_says_where_its_weights_come_from():
    assert {model.encoder for model in models.MODELS.values()} == set(models.ENCODERS)
    for name, encoder in models.ENCODERS.items():
        assert callable(encoder.build) and callable(encoder.read) and encoder.preprocessing, name
        assert (encoder.fetch is None) == (encoder.weights_file is None) == models.weights_from_vgg_dir(name)
        assert encoder.output_stride in (8, 16, 32)
    for name in models.MODELS:
        assert models.has_fc_layers(name) == (models.ENCODERS[models.get(name).encoder].fc_layers
                                              and name != 'segnet')


def test_pretrained_weights_read_a_given_file_through_the_table(tmp_path):
    from conftest import write_tiny_light_weights
    path = write_tiny_light_weights('lraspp_lite0', str(tmp_path))
    weights = models.pretrained_weights('efficientnet_lite0', path=path)
    assert set(weights) == set(tiny_weights('lraspp_lite0')) and 'stem' in weights


def test_unknown_model_is_a_value_error_naming_the_known_ones():
    with pytest.raises(ValueError, match='unknown model .resnet.*fcn8s.*segnet'):
        models.get('resnet')


@pytest.mark.parametrize('name', NAMES)
def test_scores_have_the_input_size_fixed_and_unknown(name):
    with tf.Graph().as_default(), tf.Session() as sess:
        images, _, _, scores = build(name)
        assert scores.shape.as_list()[-1] == 3
        sess.run(tf.global_variables_initializer())
        for h, w in ((64, 96), (96, 64), (70, 90)):   # multiples of 32, and not
            out = sess.run(scores, {images: np.random.RandomState(0).uniform(0, 255, (2, h, w, 3))})
            assert out.shape == (2, h, w, 3)
    with tf.Graph().as_default():
        _, _, _, scores = build(name, shape=(1, 64, 96, 3))
        assert scores.shape.as_list()[1:3] in ([64, 96], [None, None])


# SegNet's 3x3 classifier, DeepLab's fc8 and Dilation8's final start at random, as their authors initialised them.
@pytest.mark.parametrize('name', [n for n in NAMES if n not in ('segnet', 'deeplab_largefov', 'dilation8')])
def test_zero_initialised_score_layers_give_zero_scores(name):
    with tf.Graph().as_default(), tf.Session() as sess:
        images, _, _, scores = build(name)
        sess.run(tf.global_variables_initializer())
        out = sess.run(scores, {images: np.random.RandomState(1).uniform(0, 255, (1, 64, 64, 3))})
    np.testing.assert_allclose(out, 0.0, atol=1e-6)


def _stripes(n, h, w, seed):
    """Images whose left part (a random width) is dark and labelled 1, the rest bright and labelled 0."""
    rng = np.random.RandomState(seed)
    images = np.empty((n, h, w, 3), np.float32)
    labels = np.zeros((n, h, w, 2), np.float32)
    for i in range(n):
        edge = rng.randint(w // 4, 3 * w // 4)
        images[i, :, :edge], images[i, :, edge:] = 40, 210
        labels[i, :, :edge, 1], labels[i, :, edge:, 0] = 1, 1
    return images + rng.normal(0, 5, images.shape).astype(np.float32), labels


@pytest.mark.parametrize('name', NAMES)
def test_tiny_model_overfits_a_tiny_set(name):
    images_np, labels_np = _stripes(4, 64, 64, seed=2)
    with tf.Graph().as_default(), tf.Session() as sess:
        tf.set_random_seed(0)
        images, keep_prob, training, scores = build(name, num_classes=2)
        label = tf.placeholder(tf.float32, [None, None, None, 2])
        lr = tf.placeholder(tf.float32, [])
        _, train_op, loss = main.optimize(scores, label, lr, 2, encoder_lr_scale=1.0)
        sess.run(tf.global_variables_initializer())
        feed = {images: images_np, label: labels_np, lr: 1e-3, training: True}
        first = sess.run(loss, feed)
        for _ in range(60):
            sess.run(train_op, feed)
        predicted = sess.run(scores, {images: images_np}).argmax(-1)
    accuracy = (predicted == labels_np.argmax(-1)).mean()
    assert accuracy > 0.9, '%s: pixel accuracy %.3f after 60 steps (first loss %.3f)' % (name, accuracy, first)


def test_optimize_trains_only_the_decoder_when_the_encoder_rate_is_zero():
    with tf.Graph().as_default(), tf.Session() as sess:
        images, _, training, scores = build('fcn16s', num_classes=2)
        label = tf.placeholder(tf.float32, [None, None, None, 2])
        _, train_op, _ = main.optimize(scores, label, tf.constant(1e-2), 2, encoder_lr_scale=0.0)
        sess.run(tf.global_variables_initializer())
        pretrained = {v.op.name.split('/')[0] for v in tf.get_collection(models.encoders.PRETRAINED_VARIABLES)}
        variables = tf.trainable_variables()
        before = sess.run(variables)
        x, y = _stripes(2, 64, 64, seed=3)
        sess.run(train_op, {images: x, label: y})
        after = sess.run(variables)
    changed = {v.op.name.split('/')[0] if not v.op.name.startswith(models.DECODER_SCOPE) else v.op.name.split('/')[1]
               for v, b, a in zip(variables, before, after) if not np.array_equal(b, a)}
    assert pretrained == set(tiny_weights('fcn16s'))          # conv1_1 .. fc7, all given
    assert not changed & pretrained
    assert {'score_fr', 'score_pool4'} <= changed
