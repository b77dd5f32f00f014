import json
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import quality as benchmark_quality
from conftest import ROOT, TINY_SHAPE, write_png


def write_run(folder, model, metrics):
    os.makedirs(folder)
    with open(os.path.join(folder, 'metrics.json'), 'w') as f:
        json.dump(metrics, f)
    if model is not None:
        with open(os.path.join(folder, 'run_args.json'), 'w') as f:
            json.dump({'model': model}, f)
    return folder


def road_metrics(iou, diverged=None):
    return {'dataset': 'camvid_road/0001TP', 'class_names': ['not road', 'road'], 'epoch_mean_loss': [0.3, 0.2],
            'train_seconds': 401.0, 'images_per_second': 4.5, 'diverged': diverged,
            'road': {'iou': iou, 'precision': 0.94, 'recall': 0.9025},
            'kitti': {'MaxF': 0.92438, 'AP': 0.9157}, 'mean_iou': 0.9, 'pixel_accuracy': 0.95}


def class_metrics():
    return {'dataset': 'camvid/0001TP', 'class_names': ['Sky', 'Road', 'Car'], 'epoch_mean_loss': [1.0, 0.5, 0.4],
            'train_seconds': 600.0, 'images_per_second': 6.0, 'diverged': None,
            'per_class_iou': [0.8, 0.85, 0.6], 'mean_iou': 0.75, 'pixel_accuracy': 0.82,
            'class_average_accuracy': 0.55}


def test_tables_put_each_task_in_its_own_table_with_the_runs_scores(tmp_path, capsys):
    runs = [write_run(str(tmp_path / 'a'), 'segnet', road_metrics(0.8551)),
            write_run(str(tmp_path / 'b'), 'fcn8s', class_metrics()),
            write_run(str(tmp_path / 'c'), None, road_metrics(0.7, diverged='loss became nan at step 3'))]
    benchmark_quality.main_(['--from-runs'] + runs)
    lines = capsys.readouterr().out.splitlines()
    road_header = lines.index('| model | scored on | road IoU | MaxF | AP | precision / recall '
                              '| s per epoch | scoring img/s |')
    assert lines[road_header + 2] == ('| segnet | camvid_road/0001TP | 0.8551 | 92.44 | 91.57 | 0.940 / 0.902 '
                                      '| 200 | 4.50 |')
    # a run folder from before --model existed is the default model's; a diverged run says so
    assert lines[road_header + 3].startswith('| fcn8s (diverged) | camvid_road/0001TP | 0.7000 |')
    class_header = lines.index('| model | scored on | mean IoU | pixel acc. | class-avg acc. | Sky | Road | Car '
                               '| s per epoch | scoring img/s |')
    assert lines[class_header + 2] == ('| fcn8s | camvid/0001TP | 0.7500 | 0.8200 | 0.5500 | 0.800 | 0.850 | 0.600 '
                                       '| 200 | 6.00 |')


def test_unfinished_run_folders_are_named_and_left_out(tmp_path, capsys):
    partial = tmp_path / '20261126-025321.partial'
    partial.mkdir()
    with pytest.raises(SystemExit, match='none of .*20261126-025321.partial is a finished run folder'):
        benchmark_quality.main_(['--from-runs', str(partial)])
    finished = write_run(str(tmp_path / 'done'), 'fcn8s', road_metrics(0.8))
    benchmark_quality.main_(['--from-runs', str(partial), finished])
    out, err = capsys.readouterr()
    assert '20261126-025321.partial: not a finished run (no metrics.json, or still .partial), left out' in err
    assert [line.split(' | ')[0] for line in out.splitlines() if line.startswith('| fcn')] == ['| fcn8s']
    # metrics.json written but the run stopped before its folder lost .partial: still unfinished
    write_run(str(tmp_path / '20261126-030000.partial'), 'segnet', road_metrics(0.9))
    with pytest.raises(SystemExit, match='none of .*20261126-030000.partial is a finished run folder'):
        benchmark_quality.main_(['--from-runs', str(tmp_path / '20261126-030000.partial')])


def test_training_needs_a_data_dir():
    with pytest.raises(SystemExit, match='--data-dir is required unless --from-runs is given'):
        benchmark_quality.main_(['--models', 'fcn8s'])


def make_camvid(root, sequences=('0001TP', '0016E5'), per_sequence=3, shape=TINY_SHAPE):
    """SegNet's CamVid layout: sky (class 0) above a random horizon, road (class 3) below."""
    rng = np.random.RandomState(0)
    h, w = shape
    for split, sequence in (('train', sequences[0]), ('val', sequences[1])):
        for i in range(per_sequence):
            horizon = rng.randint(h // 3, 2 * h // 3)
            image = np.full((h, w, 3), (90, 160, 230), np.uint8)
            image[horizon:] = 70
            label = np.zeros((h, w), np.uint8)
            label[horizon:] = 3
            name = '%s_%06d.png' % (sequence, i)
            write_png(os.path.join(root, 'camvid', split, name), image)
            write_png(os.path.join(root, 'camvid', split + 'annot', name), label)
    return root


def test_trains_every_model_on_every_task_and_scores_the_held_out_sequence(tmp_path, tiny_vgg_pretrained, capsys):
    data = make_camvid(str(tmp_path / 'data'))
    benchmark_quality.main_(['--data-dir', data, '--runs-dir', str(tmp_path / 'runs'),
                             '--models', 'fcn32s', 'fcn8s', '--holdout-sequence', '0001TP', '--',
                             '--vgg-dir', tiny_vgg_pretrained, '--image-shape', str(TINY_SHAPE[0]), str(TINY_SHAPE[1]),
                             '--epochs', '1', '--batch-size', '3', '--no-augment'])
    lines = capsys.readouterr().out.splitlines()
    commands = [line for line in lines if line.startswith('command: ')]
    assert len(commands) == 4 and all('--holdout-sequence 0001TP' in c for c in commands)
    rows = [line for line in lines if line.startswith('| fcn')]
    assert [r.split(' | ')[:2] for r in rows] == [['| fcn32s', 'camvid_road/0001TP'], ['| fcn8s', 'camvid_road/0001TP'],
                                                  ['| fcn32s', 'camvid/0001TP'], ['| fcn8s', 'camvid/0001TP']]
    assert sorted(os.listdir(tmp_path / 'runs')) == ['fcn32s-camvid', 'fcn32s-camvid_road',
                                                     'fcn8s-camvid', 'fcn8s-camvid_road']


def test_a_run_that_fails_on_its_input_stops_the_benchmark(tmp_path, tiny_vgg):
    data = make_camvid(str(tmp_path / 'data'))
    with pytest.raises(SystemExit, match="no sequence '0009XX'"):
        benchmark_quality.main_(['--data-dir', data, '--runs-dir', str(tmp_path / 'runs'), '--tasks', 'camvid',
                                 '--holdout-sequence', '0009XX', '--', '--vgg-dir', tiny_vgg])


@pytest.mark.parametrize('how', [['-m', 'benchmarks.quality'], [os.path.join('benchmarks', 'quality.py')]])
def test_the_benchmark_runs_as_a_module_and_by_path_from_anywhere(how, tmp_path):
    command = [sys.executable] + (how if how[0] == '-m' else [os.path.join(ROOT, how[0])])
    env = dict(os.environ, PYTHONPATH=ROOT) if how[0] == '-m' else None
    done = subprocess.run(command + ['--help'], capture_output=True, text=True, cwd=str(tmp_path), env=env)
    assert done.returncode == 0, done.stderr
    assert '--from-runs' in done.stdout

