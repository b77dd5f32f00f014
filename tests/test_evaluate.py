import json
import os

import pytest

import evaluate
import main
from test_datasets import make_folder


def test_folder_dataset_trains_and_scores_its_test_split(tmp_path, tiny_vgg):
    root = make_folder(str(tmp_path / 'mine'), n=4, shape=(64, 96))
    make_folder(os.path.join(root, 'test'), n=2, shape=(64, 96))
    run_dir = main.run(['--dataset', 'folder', '--data-dir', root, '--vgg-dir', tiny_vgg, '--skip-checks',
                        '--runs-dir', str(tmp_path / 'runs'), '--image-shape', '64', '96', '--epochs', '1',
                        '--batch-size', '2', '--val-fraction', '0.25', '--class-balance', 'median-frequency'])
    with open(os.path.join(run_dir, 'model', 'run_config.json')) as f:
        config = json.load(f)
    assert config['num_classes'] == 3 and config['class_names'] == ['background', 'road', 'car']
    assert config['colours'][2] == [255, 0, 0]
    results = evaluate.main(['--model', os.path.join(run_dir, 'model'), '--data-dir', root, '--split', 'test'])
    assert results['images'] == 2 and results['dataset'] == 'folder/test'
    assert len(results['per_class_iou']) == 3
    with pytest.raises(SystemExit, match='kitti has no public test labels'):
        evaluate.main(['--model', os.path.join(run_dir, 'model'), '--data-dir', root, '--dataset', 'kitti',
                       '--split', 'test'])


def test_a_two_class_folder_about_something_else_is_neither_scored_as_road_nor_painted_green(tmp_path, tiny_vgg):
    from fcnroad.serving.predictor import Predictor
    root = make_folder(str(tmp_path / 'boats'), n=4, classes=('sea', 'boat'), shape=(64, 96))
    run_dir = main.run(['--dataset', 'folder', '--data-dir', root, '--vgg-dir', tiny_vgg, '--skip-checks',
                        '--runs-dir', str(tmp_path / 'runs'), '--image-shape', '64', '96', '--epochs', '1',
                        '--batch-size', '2', '--val-fraction', '0.25'])
    with open(os.path.join(run_dir, 'metrics.json')) as f:
        metrics = json.load(f)
    assert 'mean_iou' in metrics and 'kitti' not in metrics and 'road' not in metrics
    model = os.path.join(run_dir, 'model')
    with open(os.path.join(model, 'run_config.json')) as f:
        assert json.load(f)['positive_class'] is None
    predictor = Predictor(model)
    try:
        assert predictor.palette == {0: (0, 0, 0), 1: (0, 255, 0)}      # classes.json's colours
    finally:
        predictor.close()
    results = evaluate.main(['--model', model, '--data-dir', root])
    assert 'kitti' not in results and len(results['per_class_iou']) == 2


def test_an_unreadable_pair_is_skipped_the_rest_scored_and_the_exit_says_so(trained_run, tmp_path):
    import shutil
    from fcnroad.data import datasets, kitti_road
    kitti = str(tmp_path / 'kitti')
    shutil.copytree(trained_run[0], kitti)
    model = os.path.join(trained_run[1], 'model')
    _, val = datasets.split(kitti_road.kitti_dataset(os.path.join(kitti, 'data_road')), 0.25)
    broken = val.pairs[0][1]
    with open(broken, 'wb') as f:
        f.write(b'not a png')
    output = str(tmp_path / 'scores.json')
    with pytest.raises(SystemExit, match=r'^%d pairs scored, 1 skipped \(unreadable\): .*%s$'
                       % (len(val) - 1, os.path.basename(broken))):
        evaluate.main(['--model', model, '--data-dir', kitti, '--output', output])
    with open(output) as f:
        results = json.load(f)
    assert results['images'] == len(val) - 1 and [s['label'] for s in results['skipped_data']] == [broken]
    with pytest.raises(SystemExit, match=r'^data error: .*%s: cannot read image' % os.path.basename(broken)):
        evaluate.main(['--model', model, '--data-dir', kitti, '--strict'])
