"""models/mil.py and --supervision image-labels: Log-Sum-Exp pooling, the image-level prior,
a loss that sees only which classes an image holds."""
import os

import imageio.v2 as imageio
import numpy as np
import pytest
import tensorflow as tf2

import helper
import main
from fcnroad.data import datasets
from fcnroad.models import mil

tf = tf2.compat.v1


def run(fn, *arrays):
    with tf.Graph().as_default(), tf.Session() as sess:
        return sess.run(fn(*[tf.constant(a, tf.float32) for a in arrays]))


def test_lse_pooling_goes_from_the_mean_to_the_maximum():
    scores = np.zeros((1, 2, 2, 2), np.float32)
    scores[0, :, :, 0] = [[0, 0], [0, 4]]
    scores[0, :, :, 1] = 3                                 # constant: every r gives it back
    for r in (0.01, 1.0, 5.0, 100.0):
        pooled = run(lambda s: mil.lse_pool(s, r), scores)
        assert pooled[0, 1] == pytest.approx(3, abs=1e-5)
        assert pooled[0, 0] == pytest.approx(np.log(np.mean(np.exp(r * scores[0, :, :, 0].astype(np.float64)))) / r, rel=1e-5)
    assert run(lambda s: mil.lse_pool(s, 0.01), scores)[0, 0] == pytest.approx(1.0, abs=0.05)    # the mean
    assert run(lambda s: mil.lse_pool(s, 100.0), scores)[0, 0] == pytest.approx(4.0, abs=0.02)   # the max


def test_the_image_level_prior_weighs_each_class_by_how_likely_the_image_holds_it():
    scores = np.zeros((1, 2, 3, 3), np.float32)
    scores[..., 2] = -10                  # class 2 scores low everywhere but at one pixel,
    scores[0, 0, 0, 2] = 0                # where the three classes tie
    r = 5.0
    p = run(lambda s: mil.probabilities_with_image_prior(s, r), scores)
    np.testing.assert_allclose(p.sum(-1), 1, atol=1e-6)
    sigmoid = lambda x: 1 / (1 + np.exp(-x))        # noqa: E731
    image_2 = sigmoid(np.log(np.mean(np.exp(r * scores[0, :, :, 2].astype(np.float64)))) / r)
    assert image_2 < 0.45                                        # less likely in the image than classes 0 and 1 (0.5)
    assert p[0, 0, 0, 2] == pytest.approx(image_2 / (0.5 + 0.5 + image_2), rel=1e-4)   # not the plain 1/3
    assert p[0, 0, 0, 0] == pytest.approx(0.5 / (0.5 + 0.5 + image_2), rel=1e-4)


def one_hot(label, num_classes):
    out = np.eye(num_classes, dtype=np.float32)[np.where(label == 255, 0, label)]
    out[label == 255] = 0
    return out


def loss_and_gradient(labels, r=5.0):
    with tf.Graph().as_default(), tf.Session() as sess:
        scores = tf.Variable(np.random.RandomState(0).normal(0, 1, (1, 4, 4, 3)).astype(np.float32))
        correct = tf.placeholder(tf.float32, [None, None, None, 3])
        _, _, loss = main.optimize(scores, correct, tf.constant(1e-3), 3, clip_norm=0.0, image_labels_r=r)
        gradient = tf.gradients(loss, scores)[0]
        sess.run(tf.global_variables_initializer())
        return sess.run([loss, gradient], {correct: labels[None]})


def test_only_which_classes_an_image_holds_reaches_the_loss():
    a = np.zeros((4, 4), np.uint8)
    a[:2] = 1                               # classes 0 and 1, class 1 on top
    b = np.zeros((4, 4), np.uint8)
    b[3, 3] = 1                             # classes 0 and 1, class 1 one pixel in a corner
    b[0, 0] = 255
    c = np.full((4, 4), 2, np.uint8)        # class 2 only
    loss_a, grad_a = loss_and_gradient(one_hot(a, 3))
    loss_b, grad_b = loss_and_gradient(one_hot(b, 3))
    loss_c, _ = loss_and_gradient(one_hot(c, 3))
    assert loss_a == pytest.approx(loss_b, rel=1e-6)
    np.testing.assert_allclose(grad_a, grad_b, atol=1e-7)
    assert abs(loss_c - loss_a) > 1e-3


def test_image_labels_train_save_and_serve_with_the_prior(tmp_path, tiny_vgg):
    import json
    from conftest import make_kitti, run_tiny
    from fcnroad.serving.predictor import Predictor
    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=8, n_test=2)
    run_dir = run_tiny(kitti, tiny_vgg, str(tmp_path / 'runs'), '--supervision', 'image-labels', '--lse-r', '4',
                       '--skip-checks')
    with open(os.path.join(run_dir, 'run_args.json')) as f:
        saved = json.load(f)
    assert saved['supervision'] == 'image-labels' and saved['lse_r'] == 4
    predictor = Predictor(os.path.join(run_dir, 'model'))
    try:
        image = np.random.RandomState(0).randint(0, 255, (1, 50, 70, 3)).astype(np.uint8)
        _, probabilities = predictor(image)
        with tf.Graph().as_default(), tf.Session() as sess:
            tf.saved_model.loader.load(sess, ['serve'], os.path.join(run_dir, 'model'))
            names = [op.name for op in sess.graph.get_operations()]
    finally:
        predictor.close()
    np.testing.assert_allclose(probabilities.sum(-1), 1, atol=1e-5)
    assert any(name.endswith('Sigmoid') for name in names)      # the image-level prior is in the saved graph
    # The painted samples come from the probabilities the saved model serves, prior included.
    test_dir = os.path.join(kitti, 'data_road', 'testing', 'image_2')
    predictor = Predictor(os.path.join(run_dir, 'model'))
    try:
        for name in sorted(os.listdir(test_dir)):
            image = imageio.imread(os.path.join(test_dir, name))[..., :3]
            classes, _ = predictor(image[None])
            sample = imageio.imread(os.path.join(run_dir, os.path.splitext(name)[0] + '.png'))[..., :3]
            painted = helper.paint(image, classes[0], helper.class_colours(datasets.ROAD, None, 2))
            assert np.mean(np.all(sample == painted, axis=-1)) > 0.98
    finally:
        predictor.close()


def test_image_labels_refuse_settings_that_need_pixels(tmp_path, tiny_vgg, tiny_kitti):
    from conftest import run_tiny
    with pytest.raises(SystemExit, match='--lse-r: must be above 0, not 0'):
        run_tiny(tiny_kitti, tiny_vgg, str(tmp_path / 'runs'), '--supervision', 'image-labels', '--lse-r', '0')
    with pytest.raises(SystemExit, match='--class-balance median-frequency: weights pixels'):
        run_tiny(tiny_kitti, tiny_vgg, str(tmp_path / 'runs'), '--supervision', 'image-labels',
                 '--class-balance', 'median-frequency')
    for flag, value in (('--ohem', '0.7'), ('--boundary-weight', '2')):
        with pytest.raises(SystemExit, match='%s %s: .*no pixel labels' % (flag, value)):
            run_tiny(tiny_kitti, tiny_vgg, str(tmp_path / 'runs'), '--supervision', 'image-labels', flag, value)
