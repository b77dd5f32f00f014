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
                        '--batch-size', '2', '--val-fraction', '0.25'])
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
