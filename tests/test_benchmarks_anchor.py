"""benchmarks/anchor.py: Intel's road segmenter beside this project's models on the same frames."""
import os

import numpy as np
import pytest

from benchmarks import anchor
from conftest import make_kitti
from fcnroad.data import arrays, datasets, registry


@pytest.fixture(scope='module')
def anchor_dir():
    pytest.importorskip('openvino', reason='the anchor runs in OpenVINO (the openvino extra)')
    if not os.path.isfile(os.path.join(anchor.DEFAULT_ANCHOR_DIR, anchor.ANCHOR_NAME + '.xml')):
        pytest.skip('%s is absent (../shared/anchors)' % anchor.DEFAULT_ANCHOR_DIR)
    return anchor.DEFAULT_ANCHOR_DIR


def test_the_anchor_finds_the_road_of_camvid_frames(anchor_dir, camvid_real):
    val = registry.load('camvid_road', camvid_real)[1]
    two = val.with_pairs(val.pairs[:2])
    predictor = anchor.AnchorPredictor(anchor_dir)
    image = arrays.read_png(two.pairs[0][0])
    classes, probabilities = predictor(image[None])
    assert classes.shape == (1,) + image.shape[:2] and probabilities.shape == (1,) + image.shape[:2] + (2,)
    np.testing.assert_allclose(probabilities.sum(-1), 1, atol=1e-4)
    results = anchor.score(predictor, two)
    assert results['road']['iou'] > 0.9 and results['images_per_second'] > 0     # 0.97 on all of CamVid val


def test_without_the_anchor_our_models_are_scored_and_the_skip_is_said(trained_run, tmp_path, capsys):
    _, run_dir = trained_run
    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=4, n_test=0)
    with open(os.path.join(kitti, 'data_road', datasets.VAL_LIST), 'w') as f:
        f.write('um_000002.png\num_000003.png\n')
    table = anchor.main(['--models', os.path.join(run_dir, 'model'), '--kitti-dir', kitti,
                         '--anchor-dir', str(tmp_path)])
    out = capsys.readouterr().out
    assert 'The anchor is skipped' in out and anchor.ANCHOR_NAME + '.xml' in out
    (name, frames, results), = table
    assert frames == 'KITTI validation block' and 0 <= results['road']['iou'] <= 1
    assert '| %s |' % name in out


def test_frames_are_asked_for():
    from fcnroad import errors
    with pytest.raises(errors.ConfigError, match='--kitti-dir, --camvid-dir'):
        anchor.frame_sets(anchor.build_parser().parse_args([]))
