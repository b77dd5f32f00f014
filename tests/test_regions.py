"""Region-based segmentation end to end on a synthetic KITTI set: regions.py trains, scores,
writes its run folder whole or not at all, and refuses bad flags in one line."""
import json
import os

import numpy as np
import pytest

from conftest import TINY_DEPTH_SCALE, TINY_FC_DEPTH, make_kitti, tiny_vgg_weights
from fcnroad.cli import regions as regions_cli
from fcnroad.data import registry
from fcnroad.models import region_cnn
from fcnroad.training import regions


@pytest.fixture(scope='module')
def tiny_vgg(tmp_path_factory):
    """A VGG16-shaped SavedModel (depths / 16) whose conv layers count as pretrained, as ImageNet's would."""
    from fcnroad.models import vgg, vgg_saved_model
    out = str(tmp_path_factory.mktemp('vgg') / 'vgg')
    vgg_saved_model.write_saved_model(out, tiny_vgg_weights(with_fc=False),
                          shapes=vgg.expected_shapes(fc_depth=TINY_FC_DEPTH, depth_scale=TINY_DEPTH_SCALE))
    return out


def tiny_args(kitti, vgg_dir, runs, *extra):
    return ['--data-dir', kitti, '--vgg-dir', vgg_dir, '--runs-dir', runs, '--image-shape', '64', '96',
            '--val-fraction', '0.25', '--proposal-scales', '50', '200', *extra]


def test_regions_command_learns_the_synthetic_road_and_writes_a_complete_run_folder(tmp_path, tiny_vgg, capsys):
    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=8, n_test=1)
    results = regions_cli.main(tiny_args(kitti, tiny_vgg, str(tmp_path / 'runs')))
    out = capsys.readouterr().out
    assert results['road']['iou'] > 0.9 and results['kitti']['MaxF'] > 0.9   # sky and asphalt: regions part them
    assert results['images'] == 2 and results['training']['images'] == 6
    assert results['training']['regions_per_image'] >= 2 and results['scoring']['regions_per_image'] >= 2
    assert 'regions per image' in out and 'road IoU' in out
    run_dir, = [os.path.join(tmp_path, 'runs', n) for n in os.listdir(tmp_path / 'runs')]
    assert os.path.basename(run_dir).startswith(regions_cli.RUN_PREFIX) and not run_dir.endswith('.partial')
    assert sorted(os.listdir(run_dir)) == ['classifier.npz', 'metrics.json', 'run_args.json']
    with open(os.path.join(run_dir, 'metrics.json')) as f:
        assert json.load(f)['road']['iou'] == results['road']['iou']
    with np.load(os.path.join(run_dir, 'classifier.npz')) as arrays:
        classifier = region_cnn.RegionClassifier.from_arrays(arrays)
    assert classifier.num_classes == 2 and classifier.coef.shape[1] == results['training']['feature_depth']


def test_scores_are_those_of_the_pixels_of_the_best_regions(tmp_path, tiny_vgg):
    """score_probabilities counts what predictor() paints: all road where the classifier says road."""
    from fcnroad import models
    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=4, n_test=1)
    train, val = registry.load('kitti', kitti, 0.5)
    pipeline = regions.RegionPipeline(models.pretrained_weights('vgg16', vgg_dir=tiny_vgg), (64, 96), (50,))
    try:
        depth = pipeline.regions_and_features(np.zeros((64, 96, 3), np.uint8))[1].shape[1]
        always_road = region_cnn.RegionClassifier(np.zeros(depth), np.ones(depth), np.zeros((1, depth)), [5.0],
                                                  [0, 1], 2)
        maps = regions.predictor(pipeline, always_road)([np.zeros((64, 96, 3), np.uint8)], [(30, 40)])
    finally:
        pipeline.close()
    assert maps[0].shape == (30, 40, 2) and np.allclose(maps[0][..., 1], 1 / (1 + np.exp(-5.0)), atol=1e-5)
    assert pipeline.summary()['images'] == 2


def test_training_regions_of_one_class_stop_in_one_line_and_leave_no_run_folder(tmp_path, tiny_vgg):
    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=4, n_test=0)
    masks = os.path.join(kitti, 'data_road', 'training', 'gt_image_2')
    import imageio.v2 as imageio
    for name in os.listdir(masks):
        imageio.imwrite(os.path.join(masks, name), np.tile(np.uint8([255, 0, 255]), (64, 96, 1)))   # all road
    with pytest.raises(SystemExit, match='region_cnn: the training regions hold one class only'):
        regions_cli.main(tiny_args(kitti, tiny_vgg, str(tmp_path / 'runs')))
    assert os.listdir(tmp_path / 'runs') == []


@pytest.mark.parametrize('flags, message', [
    (['--c', '0'], '--c: must be above 0'),
    (['--proposal-scales', '0'], '--proposal-scales: must be above 0'),
    (['--max-train-images', '0'], '--max-train-images: must be at least 1'),
    (['--image-shape', '16', '96'], '--image-shape: must be a multiple of 32, at least 32'),
])
def test_bad_flags_stop_in_one_line(tmp_path, tiny_vgg, flags, message):
    with pytest.raises(SystemExit, match=message):
        regions_cli.main(tiny_args(str(tmp_path), tiny_vgg, str(tmp_path / 'runs'), *flags))
