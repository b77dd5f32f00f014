"""The road model that ships with the package: found without --model, and it paints road, not sky."""
import glob
import json
import os

import pytest

from conftest import ROOT
from fcnroad.data import arrays, kitti_road
from fcnroad.evaluation import metrics
from fcnroad.serving import saved_model
from fcnroad.serving.predictor import Predictor

SAMPLE = os.path.join(ROOT, 'sample', 'data_road')


@pytest.fixture(scope='module')
def shipped():
    predictor = Predictor(saved_model.SHIPPED_MODEL)
    yield predictor
    predictor.close()


def test_the_shipped_model_paints_the_lower_middle_of_a_kitti_frame_and_not_the_sky(shipped):
    image = arrays.read_png(os.path.join(SAMPLE, 'testing', 'image_2', 'um_000000.jpg'))
    classes = shipped(image[None])[0][0]
    h, w = classes.shape
    assert (h, w) == image.shape[:2]
    assert classes[int(0.8 * h):int(0.95 * h), int(0.4 * w):int(0.6 * w)].mean() > 0.9    # the road ahead
    assert classes[:int(0.3 * h)].mean() < 0.01                                          # the sky and the trees


def test_the_shipped_model_scores_on_held_out_kitti_frames(shipped):
    # uu 68-77: the validation block of the KITTI frames it was trained beside, never trained on.
    pairs = kitti_road.kitti_pairs(os.path.join(SAMPLE, 'training'))
    held_out = [(image, label) for image, label in pairs if os.path.basename(image).startswith('uu_')]
    assert len(held_out) == 10
    matrix = 0
    for image_path, label_path in held_out:
        image = arrays.read_png(image_path)
        matrix = matrix + metrics.confusion_matrix(kitti_road.kitti_label(label_path), shipped(image[None])[0][0], 2)
    assert metrics.binary_scores(matrix, 1)['iou'] > 0.8


def test_predict_evaluate_and_serve_take_the_shipped_model_without_model(tmp_path):
    from fcnroad.cli import evaluate, predict, serve
    for parser, given in ((predict.build_parser(), ['street.png']), (evaluate.build_parser(), ['--data-dir', SAMPLE]),
                          (serve.build_parser(), [])):
        assert os.path.samefile(parser.parse_args(given).model, saved_model.SHIPPED_MODEL)
    image = os.path.join(SAMPLE, 'testing', 'image_2', 'uu_000087.jpg')
    assert predict.main([image, '--out', str(tmp_path / 'painted')]) == 1
    assert os.listdir(tmp_path / 'painted') == ['uu_000087.png']


def test_the_model_card_gives_the_scores_of_its_metrics_json_and_every_licence():
    card = open(os.path.join(saved_model.SHIPPED_MODEL, 'MODEL_CARD.md')).read()
    with open(os.path.join(saved_model.SHIPPED_MODEL, 'metrics.json')) as f:
        sources = json.load(f)['sources']
    for source, row_start in (('kitti_road/val', '| KITTI Road validation block'), ('camvid_road/val', '| CamVid val')):
        row = next(line for line in card.splitlines() if line.startswith(row_start))
        scores = sources[source]
        for figure in ('%.4f' % scores['road']['iou'], '%.2f' % (100 * scores['kitti']['MaxF']),
                       '%.2f' % (100 * scores['kitti']['AP'])):
            assert figure in row, (source, figure)
    assert 'CC BY-NC-SA 3.0' in card and 'Apache-2.0' in card and 'for research use' in card
    assert '## Intended use' in card and 'Out of scope' in card and '## Limitations' in card
    assert 'python main.py' in card and "tf.saved_model.load('fcnroad/pretrained/road')" in card
    assert glob.glob(os.path.join(saved_model.SHIPPED_MODEL, 'variables', 'variables.data-*'))
