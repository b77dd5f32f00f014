import numpy as np
import pytest

from fcnroad.evaluation import metrics
from fcnroad.data.arrays import IGNORE


def test_confusion_matrix_leaves_out_ignored_pixels():
    labels = np.array([[0, 1, IGNORE], [1, 1, 0]])
    predictions = np.array([[0, 1, 1], [0, 1, 1]])
    cm = metrics.confusion_matrix(labels, predictions, 2)
    np.testing.assert_array_equal(cm, [[1, 1], [1, 2]])


def test_scores_from_confusion_known_answers():
    scores = metrics.scores_from_confusion(np.array([[1, 1], [1, 2]]))
    np.testing.assert_allclose(scores['per_class_iou'], [1 / 3, 1 / 2])
    assert scores['mean_iou'] == pytest.approx(5 / 12)
    assert scores['pixel_accuracy'] == pytest.approx(3 / 5)
    assert scores['class_average_accuracy'] == pytest.approx((1 / 2 + 2 / 3) / 2)


def test_empty_class_is_nan_and_left_out_of_the_means():
    labels = np.array([0, 0, 1, 1, IGNORE])
    predictions = np.array([0, 1, 1, 1, 2])
    scores = metrics.scores_from_confusion(metrics.confusion_matrix(labels, predictions, 3))
    iou = scores['per_class_iou']
    assert iou[0] == pytest.approx(1 / 2) and iou[1] == pytest.approx(2 / 3)
    assert np.isnan(iou[2])
    assert scores['mean_iou'] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert scores['class_average_accuracy'] == pytest.approx((1 / 2 + 1) / 2)


def test_confusion_matrix_rejects_out_of_range_prediction():
    with pytest.raises(ValueError, match='out of range'):
        metrics.confusion_matrix(np.array([0, 1]), np.array([0, 2]), 2)


def test_binary_scores():
    cm = np.array([[5, 1], [2, 4]])  # 4 TP, 1 FP, 2 FN
    s = metrics.binary_scores(cm, 1)
    assert s['iou'] == pytest.approx(4 / 7)
    assert s['precision'] == pytest.approx(4 / 5)
    assert s['recall'] == pytest.approx(4 / 6)
    other = metrics.binary_scores(cm, 0)         # the positive class is the one named: 5 TP, 2 FP, 1 FN
    assert other['iou'] == pytest.approx(5 / 8) and other['precision'] == pytest.approx(5 / 7)


def _hand_made_evaluation():
    # Road pixels at 200, 150, 100 (of 255); non-road at 120 and 50; one ignored pixel.
    q = np.array([200, 150, 100, 120, 50, 255]) / 255.0
    label = np.array([1, 1, 1, 0, 0, IGNORE])
    ev = metrics.RoadEvaluation()
    ev.add(q[:3], label[:3])      # counts pool over images
    ev.add(q[3:], label[3:])
    return ev


def test_kitti_maxf_and_ap_worked_out_by_hand():
    # Road where q >= k.  k <= 50: P 3/5 R 1; 51..100: P 3/4 R 1 (F 6/7, the best);
    # 101..120: P 2/3 R 2/3; 121..150: P 1 R 2/3; 151..200: P 1 R 1/3; above: dropped.
    # AP: recall >= 0, .1, .2, .3 -> 1; >= .4, .5, .6 -> 1; >= .7, .8, .9, 1 -> 3/4: (7 + 3) / 11.
    s = _hand_made_evaluation().scores()
    assert s['MaxF'] == pytest.approx(6 / 7)
    assert s['AP'] == pytest.approx(10 / 11)
    assert s['PRE'] == pytest.approx(3 / 4)
    assert s['REC'] == pytest.approx(1.0)
    assert s['FPR'] == pytest.approx(1 / 2)
    assert s['FNR'] == pytest.approx(0.0)
    assert s['threshold'] == pytest.approx(51 / 255)


def test_kitti_counts_match_brute_force_on_random_maps():
    rng = np.random.RandomState(3)
    ev = metrics.RoadEvaluation()
    probs, labels = [], []
    for _ in range(3):
        p = rng.rand(7, 9)
        lb = rng.choice([0, 1, IGNORE], size=(7, 9))
        ev.add(p, lb)
        probs.append(p.ravel())
        labels.append(lb.ravel())
    q = metrics.quantize(np.concatenate(probs)).astype(int)
    lb = np.concatenate(labels)
    tp, fp, fn, tn = ev.counts()
    for k in (0, 1, 77, 128, 255):
        road = q >= k
        assert tp[k] == np.sum(road & (lb == 1))
        assert fp[k] == np.sum(road & (lb == 0))
        assert fn[k] == np.sum(~road & (lb == 1))
        assert tn[k] == np.sum(~road & (lb == 0))


def test_kitti_evaluation_needs_both_classes():
    ev = metrics.RoadEvaluation()
    ev.add(np.array([0.9, 0.2]), np.array([1, 1]))
    with pytest.raises(ValueError, match='both road and non-road'):
        ev.scores()
