"""Images are seen at the training height and their own aspect ratio, never stretched (arrays.network_shape)."""
import os

import numpy as np
import pytest

from fcnroad.data import arrays
from fcnroad.evaluation import scoring
from test_predict import street

tf = pytest.importorskip('tensorflow').compat.v1

FOUR_BY_THREE, SIXTEEN_BY_NINE = (360, 480), (1080, 1920)


@pytest.mark.parametrize('image, trained, seen', [
    (FOUR_BY_THREE, (384, 1248), (384, 512)),          # CamVid: 480 * 384 / 360 = 512
    (SIXTEEN_BY_NINE, (384, 1248), (384, 672)),        # 682.7 -> 21 multiples of 32
    ((375, 1242), (384, 1248), (384, 1280)),           # KITTI: 1271.8 -> 40 multiples
    ((375, 1242), (256, 832), (256, 832)),             # 847.9: 26.496 multiples -> 26
    ((100, 10), (384, 640), (384, 32)),                # never below one multiple
])
def test_network_shape_keeps_the_aspect_ratio_at_the_training_height(image, trained, seen):
    assert arrays.network_shape(image, trained) == seen


def test_the_graph_computes_the_same_network_shape_as_python():
    shapes = [(h, w) for h in (1, 31, 360, 375, 720, 1080) for w in (1, 33, 480, 1242, 1920, 4000)]
    with tf.Graph().as_default(), tf.Session() as sess:
        images = tf.placeholder(tf.uint8, [None, None, None, 3])
        from fcnroad.serving import saved_model
        size = saved_model.network_shape_tensor(images, (384, 1248))
        for h, w in shapes:
            got = tuple(sess.run(size, {images: np.zeros((1, h, w, 3), np.uint8)}))
            assert got == arrays.network_shape((h, w), (384, 1248)), (h, w)


@pytest.fixture(scope='module')
def model_dir(trained_run):
    return os.path.join(trained_run[1], 'model')


@pytest.mark.parametrize('image_shape, width', [((72, 96), 96), ((54, 96), 128)])     # 4:3 and 16:9
def test_the_serving_path_feeds_the_network_the_image_at_its_own_aspect_ratio(model_dir, image_shape, width):
    from fcnroad.serving.predictor import Predictor
    predictor = Predictor(model_dir)
    try:
        trained = tuple(predictor.run_config['image_shape'])
        image = street(image_shape, 3)
        seen = predictor.sess.run(predictor.tensors['image_input'], {predictor.images: image[None]})
        classes, probabilities = predictor(image[None])
    finally:
        predictor.close()
    assert trained == (64, 96)
    assert seen.shape[1:3] == (64, width) == arrays.network_shape(image_shape, trained)
    assert classes.shape == (1,) + image_shape and probabilities.shape[:3] == (1,) + image_shape


def test_scoring_runs_each_image_at_its_own_network_shape(monkeypatch):
    seen = []

    def predict(sess, tensors, batch):
        seen.append(batch.shape[:3])
        return np.full(batch.shape[:3] + (2,), 0.5, np.float32)
    monkeypatch.setattr(scoring, 'predict', predict)
    images = [street(FOUR_BY_THREE, 1), street(SIXTEEN_BY_NINE, 2), street(FOUR_BY_THREE, 3)]
    probs = scoring.tta_probabilities(None, {}, images, (64, 96), [im.shape[:2] for im in images], flip=True)
    # one batch per network shape (the two 4:3 images together), twice with flip
    assert sorted(seen) == sorted([(2, 64, 96), (1, 64, 128)] * 2)
    assert [p.shape[:2] for p in probs] == [FOUR_BY_THREE, SIXTEEN_BY_NINE, FOUR_BY_THREE]


def test_a_training_image_keeps_its_aspect_ratio_before_its_crop(tmp_path):
    import helper
    from fcnroad.data import augment, datasets
    image = street((90, 120), 4)                     # 4:3; trained at 48x96
    label = np.zeros((90, 120), np.uint8)
    label[:, :60] = 1                                # the left half is road
    arrays.write_image(str(tmp_path / 'image.png'), image)
    arrays.write_image(str(tmp_path / 'label.png'), label)
    dataset = datasets.Dataset('one', [(str(tmp_path / 'image.png'), str(tmp_path / 'label.png'))],
                               datasets.ROAD_CLASSES, lambda path: arrays.read_png(path, channels=1),
                               positive=datasets.ROAD)
    batches = helper.gen_batch_function(None, (48, 96), dataset=dataset, seed=0,
                                        augment=augment.Augmentation(**augment.OFF))
    cached_image, cached_label = batches.store.get(0)
    assert cached_image.shape[:2] == (48, 64)         # 48 high, 4:3 -> 64 wide (not stretched to 96)
    assert cached_label[:, :32].all() and not cached_label[:, 32:].any()
    (images, labels), = list(batches(1))
    assert images.shape == (1, 48, 96, 3)
    assert (labels.sum(-1) == 0).sum() == 48 * 32     # padded with ignored pixels, not stretched
