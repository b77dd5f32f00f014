import json
import os

import numpy as np
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


def ramp_model():
    """A 'network' whose road probability rises from 0 at the left edge to 1 at the right."""
    tf = main.tf
    graph = tf.Graph()
    with graph.as_default():
        image = tf.placeholder(tf.float32, [None, None, None, 3])
        keep_prob = tf.placeholder(tf.float32)
        width = tf.shape(image)[2]
        ramp = tf.cast(tf.range(width), tf.float32) / tf.cast(width - 1, tf.float32)
        road = tf.zeros_like(image[..., 0]) + ramp
        probabilities = tf.stack([1 - road, road], -1)
    return tf.Session(graph=graph), {'image_input': image, 'keep_prob': keep_prob, 'probabilities': probabilities}


def test_scaled_shapes_are_multiples_of_32():
    assert evaluate.scaled_shape((192, 256), 1.0) == (192, 256)
    assert evaluate.scaled_shape((192, 256), 0.75) == (160, 192)     # 144 -> 160, 192
    assert evaluate.scaled_shape((192, 256), 1.25) == (256, 320)     # 240 -> 256, 320


def test_flip_averaging_and_scales_known_answer():
    sess, tensors = ramp_model()
    images = [np.zeros((50, 70, 3), np.uint8)]
    plain, = evaluate.tta_probabilities(sess, tensors, images, (64, 96), [(50, 70)])
    assert plain.shape == (50, 70, 2) and plain[0, 0, 1] < 0.02 and plain[0, -1, 1] > 0.98
    flipped, = evaluate.tta_probabilities(sess, tensors, images, (64, 96), [(50, 70)], flip=True)
    np.testing.assert_allclose(flipped[..., 1], 0.5, atol=1e-6)     # the ramp and its mirror average out
    multi, = evaluate.tta_probabilities(sess, tensors, images, (64, 96), [(50, 70)], scales=(0.5, 1.0, 1.5))
    assert multi.shape == (50, 70, 2)
    np.testing.assert_allclose(multi.sum(-1), 1, atol=1e-5)
    assert multi[0, 0, 1] < multi[0, 35, 1] < multi[0, -1, 1]


def test_an_unreadable_pair_is_skipped_the_rest_scored_and_the_exit_says_so(trained_run, tmp_path):
    import shutil
    import datasets
    kitti = str(tmp_path / 'kitti')
    shutil.copytree(trained_run[0], kitti)
    model = os.path.join(trained_run[1], 'model')
    _, val = datasets.split(datasets.kitti_dataset(os.path.join(kitti, 'data_road')), 0.25)
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
