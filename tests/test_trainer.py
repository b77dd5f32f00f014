"""fcnroad/training/trainer.py: a run trained with the functions handed over; its folder complete or absent."""
import argparse
import glob
import json
import os

import pytest

import main
from conftest import TINY_SHAPE, make_kitti
from fcnroad import errors
from fcnroad.training import options, precision, run_folder, splits, trainer


def tiny_run(kitti, vgg, runs, *extra):
    args, _ = options.resolve(['--data-dir', kitti, '--vgg-dir', vgg, '--runs-dir', runs, '--image-shape',
                               str(TINY_SHAPE[0]), str(TINY_SHAPE[1]), '--epochs', '2', '--batch-size', '2',
                               '--val-fraction', '0.25', '--no-augment', '--skip-checks', '--seed', '1', *extra])
    return args, splits.training_data(args, kitti, TINY_SHAPE)


def test_the_run_is_trained_with_the_tutorials_functions_it_is_given(tmp_path, tiny_vgg):
    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=6, n_test=1)
    args, data = tiny_run(kitti, tiny_vgg, str(tmp_path / 'runs'))
    calls = []

    def counted(name, fn):
        def wrapper(*a, **k):
            calls.append(name)
            return fn(*a, **k)
        return wrapper

    tutorial = trainer.Tutorial(*(counted(name, getattr(main.TUTORIAL, name)) for name in trainer.Tutorial._fields))
    run_dir = trainer.train(args, data, 'a test', tutorial)
    assert sorted(set(calls)) == sorted(trainer.Tutorial._fields)
    assert calls.count('train_nn') == 1 and calls.count('load_vgg') == 1
    assert run_folder.is_finished(run_dir)
    with open(os.path.join(run_dir, run_folder.METRICS)) as f:
        assert len(json.load(f)['epoch_mean_loss']) == 2


def test_a_failure_before_the_first_checkpoint_leaves_no_run_folder(tmp_path, tiny_vgg):
    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=6, n_test=1)
    runs = str(tmp_path / 'runs')
    args, data = tiny_run(kitti, tiny_vgg, runs)

    def broken_optimize(*a, **k):
        raise ValueError('no optimizer today')

    tutorial = main.TUTORIAL._replace(optimize=broken_optimize)
    with pytest.raises(ValueError, match='no optimizer today'):
        trainer.train(args, data, 'a test', tutorial)
    assert glob.glob(os.path.join(runs, '*')) == []


def test_a_file_that_breaks_during_training_ends_the_run_in_one_line(tmp_path, tiny_vgg):
    # Checked at start-up, then damaged: the loader thread meets it and the run ends with the
    # start-up check's one line (a RunError the command line prints as it is); with no checkpoint yet, no folder.
    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=6, n_test=1)
    runs = str(tmp_path / 'runs')
    args, data = tiny_run(kitti, tiny_vgg, runs)
    real_train_nn = main.TUTORIAL.train_nn
    broken, = [image for image, _ in data.train.pairs if image.endswith('um_000001.png')]

    def break_then_train(*a, **k):
        with open(broken, 'wb') as f:
            f.write(b'not a png any more')
        return real_train_nn(*a, **k)

    with pytest.raises(errors.RunError, match=r'^data error: .*um_000001\.png: cannot read image') as stopped:
        trainer.train(args, data, 'a test', main.TUTORIAL._replace(train_nn=break_then_train))
    assert '\n' not in str(stopped.value)
    assert os.listdir(runs) == []


def test_without_distribute_there_is_no_setup():
    assert trainer.start_distribution(options.RunConfig(distribute='none')) is None


def test_a_multi_worker_run_trains_in_float32_where_bfloat16_was_asked(monkeypatch):
    bfloat16 = precision.Precision('bfloat16', True, 'oneDNN graph rewrite')
    monkeypatch.setattr(precision, 'resolve', lambda mode, cpu_bfloat16: bfloat16)
    args = options.RunConfig(mixed_precision='on')
    assert trainer.run_precision(args) is bfloat16
    assert trainer.run_precision(args, argparse.Namespace(mode='mirrored')) is bfloat16
    multi = trainer.run_precision(args, argparse.Namespace(mode='multi-worker'))
    assert (multi.name, multi.rewrite) == ('float32', False) and 'multi-worker' in multi.note


def test_each_family_tells_auto_whether_bfloat16_pays_on_a_cpu(monkeypatch):
    asked = {}
    monkeypatch.setattr(precision, 'resolve', lambda mode, cpu_bfloat16: asked.setdefault(mode, cpu_bfloat16))
    for model, pays in (('fcn8s', True), ('fcn_squeezenet', True), ('lraspp_lite0', False)):
        asked.clear()
        assert trainer.run_precision(options.RunConfig(mixed_precision='auto', model=model)) is pays
