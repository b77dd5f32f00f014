"""Boxes from masks and files, and the training labels made from them."""
import json
import os

import numpy as np
import pytest

from fcnroad.data import arrays, kitti_road
from fcnroad.data import weak
from fcnroad.data.weak import Box

IGNORE = arrays.IGNORE
cv2 = pytest.importorskip('cv2', reason='opencv-python-headless is not installed')


def test_boxes_from_a_hand_made_mask():
    label = np.zeros((10, 12), np.uint8)
    label[1:4, 2:6] = 1                   # a 3x4 component of class 1
    label[6:9, 8:11] = 1                  # another, 3x3
    label[7, 1] = 1                       # a single pixel: under the minimum size
    label[6:10, 0:3] = IGNORE             # ignored pixels are no class (the single pixel is inside)
    label[7, 1] = 1
    boxes = weak.boxes_from_mask(label, 2, min_pixels=2)
    assert sorted(b for b in boxes if b.label == 1) == [Box(1, 2, 1, 6, 4), Box(1, 8, 6, 11, 9)]
    # class 0 is one 8-connected region wrapping around everything else
    assert [b for b in boxes if b.label == 0] == [Box(0, 0, 0, 12, 10)]
    assert Box(1, 1, 7, 2, 8) in weak.boxes_from_mask(label, 2, min_pixels=1)


def test_filled_boxes_smallest_wins_and_outside_is_ignored_or_background():
    big, small = Box(0, 0, 0, 8, 6), Box(1, 2, 2, 5, 4)
    for order in ([big, small], [small, big]):
        label = weak.box_label(order, (8, 10))
        assert (label[2:4, 2:5] == 1).all()                        # the smaller box, whatever the order
        assert (label[:6, :8][~np.pad(np.ones((2, 3), bool), ((2, 2), (2, 3)))] == 0).all()
        assert (label[6:] == IGNORE).all() and (label[:, 8:] == IGNORE).all()
    assert (weak.box_label([small], (8, 10), background=0)[6:] == 0).all()


def _box_file(path, data):
    with open(path, 'w') as f:
        json.dump(data, f)
    return str(path)


def test_box_files_are_read_and_checked(tmp_path):
    names = ['not road', 'road']
    path = _box_file(tmp_path / 'a.json', {'boxes': [{'class': 'road', 'box': [1, 2, 5, 6]},
                                                     {'class': 0, 'box': [0, 0, 3, 3]}], 'background': 'not road'})
    assert weak.read_box_file(path, names, (8, 8)) == ([Box(1, 1, 2, 5, 6), Box(0, 0, 0, 3, 3)], 0)
    bad_class = _box_file(tmp_path / 'b.json', {'boxes': [{'class': 'car', 'box': [0, 0, 1, 1]}]})
    with pytest.raises(weak.BoxError, match="b.json: unknown class 'car'"):
        weak.read_box_file(bad_class, names, (8, 8))
    outside = _box_file(tmp_path / 'c.json', {'boxes': [{'class': 'road', 'box': [0, 0, 9, 4]}]})
    with pytest.raises(weak.BoxError, match='c.json: box 0 .* outside the 8x8 image'):
        weak.read_box_file(outside, names, (8, 8))
    with pytest.raises(weak.BoxError, match='d.json: no box file'):
        weak.read_box_file(str(tmp_path / 'd.json'), names, (8, 8))


def _object_on_plain_background(seed=0):
    """A red ellipse on a grey, slightly noisy background, boxed loosely (10 px margin)."""
    rng = np.random.RandomState(seed)
    h, w = 120, 160
    image = np.clip(rng.normal(128, 6, (h, w, 3)), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[:h, :w]
    obj = ((yy - 60) / 30.0) ** 2 + ((xx - 80) / 45.0) ** 2 <= 1
    image[obj] = np.clip(rng.normal((200, 40, 40), 6, (obj.sum(), 3)), 0, 255).astype(np.uint8)
    return image, obj, Box(1, 80 - 45 - 10, 60 - 30 - 10, 80 + 45 + 11, 60 + 30 + 11)


def test_grabcut_recovers_a_loosely_boxed_object():
    image, obj, box = _object_on_plain_background()
    label = weak.grabcut_label(image, [box], background=0, max_side=160)
    found = label == 1
    iou = (found & obj).sum() / float((found | obj).sum())
    assert iou > 0.9, iou
    inside = np.zeros(obj.shape, bool)
    inside[box.y0:box.y1, box.x0:box.x1] = True
    assert (label[inside & ~found] == IGNORE).all() and (label[inside & ~found] == IGNORE).sum() > 0
    assert (label[~inside] == 0).all()                            # outside: the stated background
    filled = weak.box_label([box], obj.shape, background=0) == 1
    assert iou > (filled & obj).sum() / float((filled | obj).sum())   # better than the filled box


def test_recursive_label_changes_only_inside_boxes():
    boxes = [Box(1, 2, 2, 6, 6), Box(2, 4, 4, 8, 8)]
    base = weak.box_label(boxes, (10, 10))
    prediction = np.random.RandomState(0).randint(0, 3, (10, 10)).astype(np.uint8)
    label = weak.recursive_label(prediction, boxes, 3)
    inside = base != IGNORE
    assert (label[~inside] == base[~inside]).all()
    for y, x in zip(*np.nonzero(inside)):
        allowed = {b.label for b in boxes if b.y0 <= y < b.y1 and b.x0 <= x < b.x1}
        assert label[y, x] == (prediction[y, x] if prediction[y, x] in allowed else base[y, x])
    with_background = weak.recursive_label(np.zeros((10, 10), np.uint8), boxes, 3, background=0)
    assert (with_background == 0).all()              # the background may be predicted inside boxes too


def test_weak_labels_are_made_once_per_setting(tmp_path):
    from conftest import make_kitti
    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=4, n_test=0)
    dataset = kitti_road.kitti_dataset(os.path.join(kitti, 'data_road'))
    said = []
    weak_set, boxes = weak.weak_dataset(dataset, 'boxes', str(tmp_path / 'cache'), log=said.append)
    again, again_boxes = weak.weak_dataset(dataset, 'boxes', str(tmp_path / 'cache'), log=said.append)
    assert 'made for 4 images' in said[0] and 'cached' in said[1]
    assert again_boxes == boxes                          # read back from the cache, not from the masks
    other, _ = weak.weak_dataset(dataset, 'boxes', str(tmp_path / 'cache'), settings={'min_box_pixels': 10 ** 6},
                                 log=said.append)
    assert 'made' in said[2] and other.pairs[0][1] != weak_set.pairs[0][1]
    for (image, label_path), (_, mask_path), (image_boxes, _) in zip(again.pairs, dataset.pairs, boxes):
        label, mask = again.read_label(label_path), dataset.read_label(mask_path)
        assert (label == weak.box_label(image_boxes, mask.shape)).all()
        assert (label[mask == 1] == 1).all()                 # every road pixel is inside a road box
    assert (other.read_label(other.pairs[0][1]) == IGNORE).all()      # no component that big: no boxes


def test_crf_labels_hand_the_prior_to_the_crf_and_keep_only_the_classes_boxes_allow():
    big, small = Box(0, 0, 0, 8, 6), Box(1, 2, 2, 5, 4)
    priors = []

    def unchanged(image, probabilities, scale):
        priors.append((probabilities, scale))
        return probabilities

    image = np.zeros((8, 10, 3), np.uint8)
    label = weak.crf_label(image, [big, small], 3, unchanged, confidence=0.6)
    np.testing.assert_array_equal(label, weak.box_label([big, small], (8, 10)))   # the prior's choice: smallest wins
    prior, scale = priors[0]
    assert scale == 1 and prior.shape == (8, 10, 3)
    np.testing.assert_allclose(prior.sum(-1), 1, atol=1e-6)
    np.testing.assert_allclose(prior[3, 3], [0.4, 0.6, 0], atol=1e-3)   # both boxes: 0.6 on the smaller's class
    np.testing.assert_allclose(prior[0, 0], [1, 0, 0], atol=1e-3)       # one box: its class alone
    np.testing.assert_allclose(prior[7, 9], [1 / 3.0] * 3, atol=1e-3)   # no box, no background: no opinion
    with_background = weak.crf_label(image, [small], 3, unchanged, background=2)
    assert (with_background[2:4, 2:5] == 1).all() and (with_background[4:] == 2).all()
    np.testing.assert_allclose(priors[-1][0][3, 3], [0, 0.6, 0.4], atol=1e-3)   # the box's class or the background

    def everything_class_2(image, probabilities, scale):     # a class no box allows, inside and out
        return np.eye(3, dtype=np.float32)[np.full(probabilities.shape[:2], 2)]

    label = weak.crf_label(image, [big, small], 3, everything_class_2)
    assert (label == IGNORE).all()


def test_the_dense_crf_recovers_a_loosely_boxed_object_with_or_without_a_background_class():
    from fcnroad.evaluation import crf
    pytest.importorskip('pydensecrf.densecrf', reason='pydensecrf2 is not installed')
    image, obj, box = _object_on_plain_background()
    inside = np.zeros(obj.shape, bool)
    inside[box.y0:box.y1, box.x0:box.x1] = True
    label = weak.crf_label(image, [box], 2, crf.scaled_dense_crf, background=0, max_side=160)
    iou = ((label == 1) & obj).sum() / float(((label == 1) | obj).sum())
    assert iou > 0.9, iou
    assert (label[inside & ~obj] == 0).mean() > 0.9           # the box's margin found to be background
    # Boxes from masks: the background is a box of its own class, no background class.
    stuff = Box(0, 0, 0, 160, 110)                                  # leaves the last 10 rows unboxed
    label = weak.crf_label(image, [stuff, box], 2, crf.scaled_dense_crf, max_side=80)
    iou = ((label == 1) & obj).sum() / float(((label == 1) | obj).sum())
    assert iou > 0.85, iou
    assert (label[110:] == IGNORE).all()


def test_crf_labels_need_the_crf_and_are_cached_apart_from_the_filled_boxes(tmp_path):
    from conftest import make_kitti
    from fcnroad.evaluation import crf
    pytest.importorskip('pydensecrf.densecrf', reason='pydensecrf2 is not installed')
    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=3, n_test=0)
    dataset = kitti_road.kitti_dataset(os.path.join(kitti, 'data_road'))
    with pytest.raises(ValueError, match='boxes-crf needs the CRF'):
        weak.weak_dataset(dataset, 'boxes-crf', str(tmp_path / 'cache'))
    said = []
    filled, boxes = weak.weak_dataset(dataset, 'boxes', str(tmp_path / 'cache'), log=said.append)
    refined, _ = weak.weak_dataset(dataset, 'boxes-crf', str(tmp_path / 'cache'), log=said.append,
                                   refine=crf.scaled_dense_crf)
    assert 'boxes-crf labels' in said[1] and 'made for 3 images' in said[1]
    assert os.path.dirname(refined.pairs[0][1]) != os.path.dirname(filled.pairs[0][1])
    for (_, path), (image_boxes, _) in zip(refined.pairs, boxes):
        label = refined.read_label(path)
        allowed = np.zeros(label.shape + (2,), bool)
        for b in image_boxes:
            allowed[b.y0:b.y1, b.x0:b.x1, b.label] = True
        given = label != IGNORE
        assert given.mean() > 0.5
        assert np.take_along_axis(allowed, label[..., None].astype(np.int64) * given[..., None], -1)[given].all()
