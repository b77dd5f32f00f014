import os

import imageio.v2 as imageio
import numpy as np
import pytest

from fcnroad.data import arrays, datasets, kitti_road
import helper
from conftest import TINY_SHAPE, make_kitti


@pytest.fixture
def training_dir(tmp_path):
    return os.path.join(make_kitti(str(tmp_path), n_train=5, n_test=2, shape=(64, 96)), 'data_road', 'training')


def test_batches_cover_every_image_once_with_ignored_pixels_zero(training_dir):
    get_batches_fn = helper.gen_batch_function(training_dir, (32, 64), seed=0)
    batches = list(get_batches_fn(2))
    assert [len(images) for images, _ in batches] == [2, 2, 1]
    assert get_batches_fn.num_batches(2) == 3
    for images, labels in batches:
        assert images.dtype == np.float32 and images.shape[1:] == (32, 64, 3)
        assert labels.shape[1:] == (32, 64, 2)
        assert set(np.unique(labels.sum(-1))) == {0.0, 1.0}   # one-hot, or all-zero where ignored
        assert np.all(labels[:, :, :2].sum(-1) == 0)          # the black strip at the left edge
    # Every image once: each distinct image appears in exactly one batch.
    means = sorted(float(im.mean()) for images, _ in batches for im in images)
    assert len(set(means)) == 5


def test_second_epoch_from_cache_equals_first(training_dir):
    get_batches_fn = helper.gen_batch_function(training_dir, (32, 64), shuffle=False)
    first = list(get_batches_fn(5))[0]
    second = list(get_batches_fn(5))[0]
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_unreadable_png_in_a_batch_names_the_file(training_dir):
    with open(os.path.join(training_dir, 'image_2', 'um_000003.png'), 'wb') as f:
        f.write(b'garbage')
    get_batches_fn = helper.gen_batch_function(training_dir, (32, 64))
    with pytest.raises(arrays.DataError, match=r'um_000003\.png: cannot read image'):
        list(get_batches_fn(2))


def test_stopping_early_does_not_hang(training_dir):
    get_batches_fn = helper.gen_batch_function(training_dir, (32, 64))
    for _ in get_batches_fn(1):
        break
    assert len(list(get_batches_fn(1))) == 5


class _Graph:
    """A constant 'model' for save_inference_samples: road where the green channel is dark (asphalt, not sky)."""

    def __init__(self):
        import tensorflow.compat.v1 as tf
        self.tf = tf
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.image = tf.placeholder(tf.float32, [None, None, None, 3])
            self.keep_prob = tf.placeholder(tf.float32)
            road = tf.cast(self.image[..., 1:2] < 128, tf.float32) * 10
            self.logits = tf.reshape(tf.concat([10 - road, road], -1), (-1, 2))
        self.sess = tf.Session(graph=self.graph)


def test_save_inference_samples_writes_every_test_image(tmp_path):
    root = make_kitti(str(tmp_path / 'kitti'), n_train=1, n_test=3, shape=(64, 96))
    # A test image of another width, as KITTI's 1224..1242 wide ones.
    imageio.imwrite(os.path.join(root, 'data_road', 'testing', 'image_2', 'uu_000099.png'),
                    np.zeros((60, 100, 3), np.uint8))
    g = _Graph()
    with g.graph.as_default():
        out = helper.save_inference_samples(str(tmp_path / 'runs'), root, g.sess, (32, 64), g.logits,
                                            g.keep_prob, g.image)
    names = sorted(os.listdir(out))
    assert names == ['um_000001.png', 'um_000002.png', 'um_000003.png', 'uu_000099.png']
    sample = imageio.imread(os.path.join(out, 'uu_000099.png'))
    assert sample.shape == (60, 100, 3)      # the image's own size, not the network's 32x64
    np.testing.assert_array_equal(sample, helper.paint(np.zeros((60, 100, 3), np.uint8), np.ones((60, 100)), {1: helper.ROAD_GREEN}))
    # Sky above, asphalt below: painted green below the horizon only, at 64x96.
    image = imageio.imread(os.path.join(root, 'data_road', 'testing', 'image_2', 'um_000001.png'))
    painted = imageio.imread(os.path.join(out, 'um_000001.png'))
    changed = np.any(painted != image, axis=-1)
    assert changed.shape == (64, 96) and changed[-1].all() and not changed[0].any()
    assert os.listdir(tmp_path / 'runs') == [os.path.basename(out)]


def test_save_inference_samples_paint_the_probabilities_they_are_given_over_the_logits_softmax(tmp_path):
    # An image-labels run's probabilities carry the image-level prior: here it turns every pixel's class around.
    root = make_kitti(str(tmp_path / 'kitti'), n_train=1, n_test=1, shape=(64, 96))
    g = _Graph()
    with g.graph.as_default():
        softmax = g.tf.reshape(g.tf.nn.softmax(g.logits), (-1, 32, 64, 2))
        reversed_probabilities = softmax[..., ::-1]
        out = helper.save_inference_samples(str(tmp_path / 'runs'), root, g.sess, (32, 64), g.logits,
                                            g.keep_prob, g.image, output_dir=str(tmp_path / 'samples'),
                                            probabilities=reversed_probabilities)
    image = imageio.imread(os.path.join(root, 'data_road', 'testing', 'image_2', 'um_000001.png'))
    changed = np.any(imageio.imread(os.path.join(out, 'um_000001.png')) != image, axis=-1)
    assert changed[0].all() and not changed[-1].any()      # the sky painted, the asphalt not


def test_save_inference_samples_leaves_nothing_on_failure(tmp_path):
    root = make_kitti(str(tmp_path / 'kitti'), n_train=1, n_test=2, shape=(64, 96))
    with open(os.path.join(root, 'data_road', 'testing', 'image_2', 'um_000002.png'), 'wb') as f:
        f.write(b'broken')
    g = _Graph()
    with g.graph.as_default(), pytest.raises(arrays.DataError, match=r'um_000002\.png'):
        helper.save_inference_samples(str(tmp_path / 'runs'), root, g.sess, (32, 64), g.logits,
                                      g.keep_prob, g.image)
    assert os.listdir(tmp_path / 'runs') == []


def test_augmented_batches_are_reproducible_and_differ_between_epochs(training_dir):
    from fcnroad.data import augment
    aug = augment.Augmentation()
    first = list(helper.gen_batch_function(training_dir, (32, 64), seed=4, augment=aug)(2))
    again_fn = helper.gen_batch_function(training_dir, (32, 64), seed=4, augment=aug)
    again = list(again_fn(2))
    for (a_img, a_lab), (b_img, b_lab) in zip(first, again):
        np.testing.assert_array_equal(a_img, b_img)
        np.testing.assert_array_equal(a_lab, b_lab)
    second_epoch = list(again_fn(2))
    assert not all(np.array_equal(a, b) for (a, _), (b, _) in zip(first, second_epoch))
    plain = list(helper.gen_batch_function(training_dir, (32, 64), seed=4)(2))
    assert not all(np.array_equal(a, b) for (a, _), (b, _) in zip(first, plain))


def test_resumed_epoch_skips_to_the_same_batches(training_dir):
    from fcnroad.data import augment
    fn = helper.gen_batch_function(training_dir, (32, 64), seed=5, augment=augment.Augmentation())
    state = fn.rng.get_state()
    full = list(fn(2))
    fn.rng.set_state(state)
    tail = list(fn(2, skip=1))
    assert len(tail) == len(full) - 1
    for (a, la), (b, lb) in zip(full[1:], tail):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(la, lb)


def test_shards_of_a_global_batch_are_its_equal_parts_and_short_batches_are_dropped(tmp_path):

    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=10, n_test=1)
    data_road = os.path.join(kitti, 'data_road', 'training')
    dataset = datasets.Dataset('kitti_road', kitti_road.kitti_pairs(data_road), datasets.ROAD_CLASSES,
                               kitti_road.kitti_label)
    whole = helper.gen_batch_function(None, TINY_SHAPE, dataset=dataset, seed=4)
    shards = [helper.gen_batch_function(None, TINY_SHAPE, dataset=dataset, seed=4, shard=(i, 2)) for i in range(2)]
    full = list(whole(4))
    parts = [list(s(4)) for s in shards]
    assert [len(f[0]) for f in full] == [4, 4, 2]
    assert len(parts[0]) == len(parts[1]) == shards[0].num_batches(4) == 2      # the short batch is dropped
    for step in range(2):
        np.testing.assert_array_equal(np.concatenate([parts[0][step][0], parts[1][step][0]]), full[step][0])
        np.testing.assert_array_equal(np.concatenate([parts[0][step][1], parts[1][step][1]]), full[step][1])
