"""Region-based segmentation's parts on hand-made arrays: proposals, box and foreground pooling,
region targets, the highest-scoring region's pixels, the classifier, the frozen VGG16 features."""
import numpy as np
import pytest
import tensorflow as tf2

from conftest import tiny_vgg_weights
from fcnroad.models import region_cnn

tf = tf2.compat.v1


def two_colour_image(h=40, w=60):
    image = np.zeros((h, w, 3), np.uint8)
    image[:, :w // 2] = (200, 30, 30)
    image[:, w // 2:] = (20, 20, 220)
    return image


def test_proposals_number_regions_across_maps_and_follow_colour_edges():
    regions = region_cnn.propose(two_colour_image(), scales=(50, 500), min_size=20)
    assert regions.shape == (2, 40, 60) and regions.dtype == np.int32
    for m in regions:       # no region crosses the colour edge
        assert set(np.unique(m[:, :30])).isdisjoint(np.unique(m[:, 30:]))
    assert len(np.unique(regions[1])) <= len(np.unique(regions[0]))   # a larger scale: no more regions
    assert set(np.unique(regions[0])).isdisjoint(np.unique(regions[1]))
    assert sorted(np.unique(regions)) == list(range(region_cnn.region_count(regions)))


def l_shape_regions():
    """One 4x4 map on a 2x2 grid: region 0 the top-left and bottom-right cells, region 1 the rest."""
    m = np.ones((4, 4), np.int32)
    m[:2, :2] = 0
    m[2:, 2:] = 0
    return m[None]


def test_pooling_weights_average_over_the_region_and_over_its_box():
    box, foreground = region_cnn.pooling_weights(l_shape_regions(), (2, 2))
    np.testing.assert_allclose(foreground, [[0.5, 0, 0, 0.5], [0, 0.5, 0.5, 0]])
    np.testing.assert_allclose(box, [[0.25] * 4, [0.25] * 4])        # both boxes span the whole image
    m = np.zeros((1, 4, 4), np.int32)
    m[0, :, 3] = 1                                                   # a one-pixel-wide column in the right cells
    box, foreground = region_cnn.pooling_weights(m, (2, 2))
    np.testing.assert_allclose(box[1], [0, 0.5, 0, 0.5])
    np.testing.assert_allclose(foreground[0], np.array([4, 2, 4, 2]) / 12)


def test_describe_concatenates_box_and_foreground_means_of_each_feature_map():
    features = np.array([0, 1, 2, 10], np.float32).reshape(2, 2, 1)   # the four cells' values
    deep = np.full((1, 1, 2), 7.0, np.float32)                       # a coarser map: one cell
    described = region_cnn.describe(l_shape_regions(), [features, deep])
    # region 0: box mean 13 / 4, its cells (0 and 10) 5; region 1: the same box, cells 1 and 2
    np.testing.assert_allclose(described, [[3.25, 5, 7, 7, 7, 7], [3.25, 1.5, 7, 7, 7, 7]])


def test_region_targets_take_the_majority_of_labelled_pixels_and_refuse_mostly_unlabelled_regions():
    regions = np.array([[[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2]]], np.int32)
    label = np.array([[1, 1, 255, 255], [0, 1, 255, 0], [2, 2, 0, 255]], np.uint8)
    targets = region_cnn.region_targets(regions, label, 3)
    assert targets.tolist() == [1, -1, 2]                           # region 1: 1 of 4 pixels labelled
    assert region_cnn.region_targets(regions, label, 3, min_labelled=0.25).tolist() == [1, 0, 2]


def test_each_pixel_takes_its_highest_scoring_region():
    regions = np.array([[[0, 0, 1, 1]], [[2, 2, 2, 3]]], np.int32)     # two maps of one row
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]], np.float32)
    p = region_cnn.pixel_probabilities(regions, probs)
    np.testing.assert_allclose(p[0, :, 1], [0.1, 0.1, 0.7, 0.8])       # 0 beats 2; 2 beats 1; 3 beats 1


def test_classifier_probabilities_are_scikit_learns_and_survive_its_arrays():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    rng = np.random.RandomState(0)
    x = rng.normal(size=(120, 5)).astype(np.float32) * 3 + 1
    for y, num_classes in (((x[:, 0] > 1).astype(int), 2), (np.digitize(x[:, 1], [0, 2]) * 2, 5)):
        clf = region_cnn.RegionClassifier.fit(x, y, num_classes)
        scaler = StandardScaler().fit(x)
        reference = LogisticRegression(C=region_cnn.CLASSIFIER_C, max_iter=region_cnn.CLASSIFIER_ITERATIONS)
        reference.fit(scaler.transform(x), y)
        p = clf.probabilities(x)
        assert p.shape == (120, num_classes)
        np.testing.assert_allclose(p[:, reference.classes_], reference.predict_proba(scaler.transform(x)), atol=1e-4)
        absent = sorted(set(range(num_classes)) - set(y))
        assert np.all(p[:, absent] == 0)                             # classes 1 and 3 never seen: never chosen
        again = region_cnn.RegionClassifier.from_arrays(clf.arrays())
        np.testing.assert_array_equal(again.probabilities(x), p)


def test_classifier_refuses_training_regions_of_one_class():
    with pytest.raises(ValueError, match='one class'):
        region_cnn.RegionClassifier.fit(np.ones((4, 3), np.float32), np.zeros(4, int), 2)


def test_feature_graph_gives_conv4_3_at_stride_8_and_conv5_3_at_stride_16_of_any_size():
    weights = tiny_vgg_weights(with_fc=False)
    with tf.Graph().as_default(), tf.Session() as sess:
        images = tf.placeholder(tf.float32, [1, None, None, 3])
        conv4, conv5 = region_cnn.feature_graph(images, weights)
        sess.run(tf.global_variables_initializer())
        for h, w in ((64, 96), (72, 100)):
            a, b = sess.run([conv4, conv5], {images: np.zeros((1, h, w, 3))})
            assert a.shape == (1, -(-h // 8), -(-w // 8), weights['conv4_3'][1].shape[0])
            assert b.shape == (1, -(-h // 16), -(-w // 16), weights['conv5_3'][1].shape[0])
        assert not [v for v in tf.global_variables() if v.op.name.startswith(('fc6', 'fc7'))]
