"""fcnroad/serving/report.py and evaluate.py --report: figures that recount by hand, the worst first, a whole page."""
import csv
import os
import re

import imageio.v2 as imageio
import numpy as np
import pytest

import evaluate
from fcnroad.data import arrays, kitti_road
from fcnroad.evaluation import metrics, scoring
from fcnroad.serving import report, saved_model

tf = pytest.importorskip('tensorflow').compat.v1


@pytest.fixture(scope='module')
def written(trained_run, tmp_path_factory):
    kitti, run_dir = trained_run
    out = str(tmp_path_factory.mktemp('report') / 'report')
    evaluate.main(['--model', os.path.join(run_dir, 'model'), '--data-dir', kitti, '--report', out, '--worst', '2'])
    with open(os.path.join(out, report.CSV_NAME)) as f:
        rows = list(csv.DictReader(f))
    return out, rows


def test_the_csv_figures_recount_by_hand(trained_run, written):
    kitti, run_dir = trained_run
    _, rows = written
    model = os.path.join(run_dir, 'model')
    with tf.Graph().as_default(), tf.Session() as sess:
        tensors, run_config = saved_model.load_model(sess, model)
        for row in rows[:2]:
            image, label = arrays.read_png(row['image']), kitti_road.kitti_label(row['label'])
            probs, = scoring.tta_probabilities(sess, tensors, [image], tuple(run_config['image_shape']),
                                               [label.shape])
            road = probs[..., 1] > 0.5
            evaluated = label != arrays.IGNORE
            tp = int((road & (label == 1)).sum())
            fp = int((road & (label == 0)).sum())
            fn = int((~road & (label == 1)).sum())
            assert (int(row['tp']), int(row['fp']), int(row['fn'])) == (tp, fp, fn)
            assert int(row['evaluated_pixels']) == int(evaluated.sum())
            assert float(row['road_iou']) == pytest.approx(tp / (tp + fp + fn), abs=1e-4)
            assert float(row['precision']) == pytest.approx(tp / (tp + fp), abs=1e-4)
            assert float(row['recall']) == pytest.approx(tp / (tp + fn), abs=1e-4)


def test_the_worst_images_come_first_as_panels_at_their_own_size(written):
    out, rows = written
    ranked = sorted(rows, key=lambda r: float(r['road_iou']))
    names = sorted(os.listdir(os.path.join(out, report.WORST_DIR)))
    assert names == ['%02d_%s.png' % (i + 1, os.path.splitext(os.path.basename(r['image']))[0])
                     for i, r in enumerate(ranked[:2])]
    first = imageio.imread(os.path.join(out, report.WORST_DIR, names[0]))
    h, w = arrays.read_png(ranked[0]['image']).shape[:2]
    assert first.shape == (h, 4 * w + 3 * report.PANEL_GAP, 3)
    errors = first[:, 3 * (w + report.PANEL_GAP):]
    # The errors panel shows each false positive red and each false negative blue (the image is dimmed).
    assert (errors == report.FALSE_POSITIVE).all(-1).sum() == int(ranked[0]['fp'])
    assert (errors == report.FALSE_NEGATIVE).all(-1).sum() == int(ranked[0]['fn'])


def test_every_file_the_page_names_exists(written):
    out, rows = written
    with open(os.path.join(out, report.PAGE_NAME)) as f:
        page = f.read()
    named = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert report.CSV_NAME in named and report.CURVE_NAME in named and len(named) == 2 + 2
    assert all(os.path.isfile(os.path.join(out, n)) for n in named)
    assert 'road IoU' in page and '://' not in page      # the summary, and no external asset


def test_a_folder_that_is_not_a_report_is_refused_and_left_alone(trained_run, tmp_path):
    kitti, run_dir = trained_run
    (tmp_path / 'mine').mkdir()
    (tmp_path / 'mine' / 'notes.txt').write_text('keep me')
    with pytest.raises(SystemExit, match='mine: exists and is not a report of evaluate.py'):
        evaluate.main(['--model', os.path.join(run_dir, 'model'), '--data-dir', kitti,
                       '--report', str(tmp_path / 'mine')])
    assert os.listdir(tmp_path / 'mine') == ['notes.txt']


def test_several_classes_score_each_class_and_paint_wrong_pixels():
    cm = np.array([[5, 1, 0], [0, 3, 1], [0, 0, 0]])    # class 2: neither labelled nor predicted... but predicted once
    row = report.image_scores(cm, ['sky', 'road', 'car'])
    assert row['iou_sky'] == pytest.approx(5 / 6) and row['iou_road'] == pytest.approx(3 / 5)
    assert row['iou_car'] == 0.0 and row['evaluated_pixels'] == 10
    assert row['mean_iou'] == pytest.approx((5 / 6 + 3 / 5 + 0) / 3)
    assert row['pixel_accuracy'] == pytest.approx(0.8)
    image = np.full((2, 3, 3), 100, np.uint8)
    label = np.array([[0, 1, arrays.IGNORE], [2, 2, 0]])
    classes = np.array([[0, 2, 1], [2, 0, 0]], np.uint8)
    errors = report.panel(image, label, classes, {0: (0, 0, 0), 1: (0, 255, 0), 2: (255, 255, 0)})[:, -3:]
    wrong = (errors == report.FALSE_POSITIVE).all(-1)
    np.testing.assert_array_equal(wrong, [[False, True, False], [False, True, False]])
    assert (errors[0, 2] == report.NOT_EVALUATED).all()


def test_image_scores_of_a_road_image_by_hand():
    cm = np.array([[50, 10], [5, 35]])
    row = report.image_scores(cm, ['background', 'road'], positive=1)
    assert (row['tp'], row['fp'], row['fn'], row['road_pixels'], row['predicted_road_pixels']) == (35, 10, 5, 40, 45)
    assert row['road_iou'] == pytest.approx(35 / 50) and row['f'] == pytest.approx(2 * 35 / (2 * 35 + 10 + 5))
    assert metrics.binary_scores(cm, 1)['iou'] == pytest.approx(row['road_iou'])
