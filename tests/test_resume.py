"""main.py's long-run behaviour: interrupt, resume, crash, keep-best, curves (README: Resuming)."""
import glob
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import evaluate
import helper
import main
from fcnroad.training import checkpoints, curves, loop, run_folder, trainer, weak_rounds
from conftest import ROOT, TINY_SHAPE, make_kitti

tf = main.tf


def tiny_args(kitti, vgg, runs, epochs=4):
    return ['--data-dir', kitti, '--vgg-dir', vgg, '--runs-dir', runs, '--image-shape', str(TINY_SHAPE[0]),
            str(TINY_SHAPE[1]), '--epochs', str(epochs), '--batch-size', '2', '--learning-rate', '1e-3',
            '--keep-prob', '1.0', '--val-fraction', '0.25', '--skip-checks', '--seed', '3',
            '--checkpoint-minutes', '0',    # a checkpoint every epoch: the tiny epochs take a second
            '--frozen-blocks', '0']         # a random VGG16 has nothing worth freezing


def model_weights(run_dir):
    reader = tf.train.load_checkpoint(os.path.join(run_dir, 'model', 'variables', 'variables'))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.fixture(scope='module')
def kitti(tmp_path_factory):
    return make_kitti(str(tmp_path_factory.mktemp('resume') / 'kitti'), n_train=16, n_test=1)


@pytest.fixture(scope='module')
def reference(kitti, tiny_vgg, tmp_path_factory):
    """The uninterrupted 4-epoch run."""
    return main.run(tiny_args(kitti, tiny_vgg, str(tmp_path_factory.mktemp('reference'))))


def test_sigint_keeps_the_work_and_resume_matches_the_uninterrupted_run(kitti, tiny_vgg, reference, tmp_path):
    runs = str(tmp_path / 'runs')
    proc = subprocess.Popen([sys.executable, '-u', os.path.join(ROOT, 'main.py')] +
                            tiny_args(kitti, tiny_vgg, runs) + ['--keep-checkpoints', '5'],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if 'checkpoint' in line and 'epoch-002' in line:
            proc.send_signal(signal.SIGINT)      # a real Ctrl-C, during epoch 3
            break
    out = ''.join(seen) + proc.communicate(timeout=300)[0]
    assert proc.returncode == 128 + signal.SIGINT, out
    partial, = glob.glob(os.path.join(runs, '*.partial'))
    assert 'python main.py --resume %s' % partial in out
    # The epoch-2 checkpoint is complete; the interrupt wrote a newer one in epoch 3.
    folder = os.path.join(partial, 'checkpoints')
    reader = tf.train.load_checkpoint(os.path.join(folder, 'epoch-002'))
    assert 'decoder/score_fr/weights' in reader.get_variable_to_shape_map()
    with open(os.path.join(folder, 'epoch-002' + checkpoints.STATE_SUFFIX)) as f:
        assert json.load(f)['epoch'] == 2
    _, latest = checkpoints.latest_checkpoint(folder)
    assert (latest.epoch, latest.step > 0) in ((2, True), (3, False), (3, True))
    assert not os.path.exists(os.path.join(partial, 'model'))

    run_dir = main.run(['--resume', partial])
    assert run_dir == partial[:-len('.partial')] and not os.path.exists(partial)
    assert sorted(os.listdir(run_dir)) == sorted(os.listdir(reference))
    assert_same_weights(model_weights(run_dir), model_weights(reference))
    with open(os.path.join(run_dir, 'metrics.json')) as f, open(os.path.join(reference, 'metrics.json')) as g:
        resumed, uninterrupted = json.load(f), json.load(g)
    np.testing.assert_allclose(resumed['epoch_mean_loss'], uninterrupted['epoch_mean_loss'], rtol=1e-4)


def test_a_run_saved_before_todays_settings_still_resumes(kitti, tiny_vgg, tmp_path, monkeypatch):
    runs = str(tmp_path / 'runs')
    def crash(*args, **kwargs):
        raise RuntimeError('power cut')

    monkeypatch.setattr(trainer, 'save_model', crash)
    with pytest.raises(RuntimeError, match='power cut'):
        main.run(tiny_args(kitti, tiny_vgg, runs, epochs=1) + ['--no-augment'])
    partial, = glob.glob(os.path.join(runs, '*.partial'))
    path = os.path.join(partial, run_folder.RUN_ARGS)
    with open(path) as f:
        saved = json.load(f)
    for newer in ('frozen_blocks', 'model', 'supervision', 'lr_schedule', 'lr_power', 'augment', 'keep_checkpoint',
                  'checkpoint_minutes', 'class_balance', 'mixed_precision', 'fc_depth'):
        del saved[newer]
    saved['a_flag_since_removed'] = 1
    with open(path, 'w') as f:
        json.dump(saved, f)
    monkeypatch.undo()
    run_dir = main.run(['--resume', partial, '--epochs', '2'])
    with open(os.path.join(run_dir, 'metrics.json')) as f:
        assert len(json.load(f)['epoch_mean_loss']) == 2
    with open(os.path.join(run_dir, 'model', 'run_config.json')) as f:
        settings = json.load(f)['args']
    assert (settings['frozen_blocks'], settings['augment'], settings['model']) == (0, False, 'fcn8s')
    assert settings['fc_depth'] == 32                 # its SavedModel's (tiny_vgg)
    assert 'a_flag_since_removed' not in settings


def test_a_crash_keeps_the_checkpoints_and_resume_finishes(kitti, tiny_vgg, tmp_path, monkeypatch, capsys):
    runs = str(tmp_path / 'runs')
    real_save = trainer.save_model

    def crash(*args, **kwargs):
        raise RuntimeError('power cut')

    monkeypatch.setattr(trainer, 'save_model', crash)
    with pytest.raises(RuntimeError, match='power cut'):
        main.run(tiny_args(kitti, tiny_vgg, runs, epochs=2))
    partial, = glob.glob(os.path.join(runs, '*.partial'))
    assert 'Continue it with:\n    python main.py --resume %s' % partial in capsys.readouterr().err
    _, state = checkpoints.latest_checkpoint(os.path.join(partial, 'checkpoints'))
    assert (state.epoch, state.step) == (2, 0)

    with pytest.raises(SystemExit, match=r'--image-shape 32 64 \(the run has 64 96\)'):
        main.run(['--resume', partial, '--image-shape', '32', '64'])
    with pytest.raises(SystemExit, match=r'--dataset camvid \(the run has kitti\)'):
        main.run(['--resume', partial, '--dataset', 'camvid'])
    monkeypatch.setattr(trainer, 'save_model', real_save)
    run_dir = main.run(['--resume', partial, '--skip-checks'])    # a flag that agrees is fine
    with open(os.path.join(run_dir, 'metrics.json')) as f:
        assert len(json.load(f)['epoch_mean_loss']) == 2
    assert os.path.isdir(os.path.join(run_dir, 'model'))


def test_a_run_that_fails_before_its_first_checkpoint_leaves_nothing(kitti, tiny_vgg, tmp_path, monkeypatch):
    def no_batches(*args, **kwargs):
        raise RuntimeError('disk gone')
    monkeypatch.setattr(loop.TrainingHooks, 'after_step', no_batches)
    with pytest.raises(RuntimeError, match='disk gone'):
        main.run(tiny_args(kitti, tiny_vgg, str(tmp_path / 'runs')))
    assert os.listdir(tmp_path / 'runs') == []


def test_resume_of_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(SystemExit, match='not a run folder of main.py'):
        main.run(['--resume', str(tmp_path)])
    with pytest.raises(SystemExit, match='nowhere: no such folder'):
        main.run(['--resume', str(tmp_path / 'nowhere')])
    (tmp_path / run_folder.RUN_ARGS).write_text('{}')
    with pytest.raises(SystemExit, match='nothing to resume from: .*no complete checkpoint'):
        main.run(['--resume', str(tmp_path)])


def spoil_batches(monkeypatch, spoil):
    """Make main.run's batches (the trainer's gen_batch_function) pass through spoil(epoch, images, labels)."""
    real = helper.gen_batch_function

    class Spoiled(helper.Batches):
        epochs = 0

        def __call__(self, batch_size, skip=0):
            self.epochs += 1
            for images, labels in super().__call__(batch_size, skip):
                yield spoil(self.epochs, images, labels)

    def spoiled(*args, **kwargs):
        batches = real(*args, **kwargs)
        batches.__class__ = Spoiled
        return batches

    monkeypatch.setattr(main, 'TUTORIAL', main.TUTORIAL._replace(gen_batch_function=spoiled))


def test_keep_best_saves_the_best_epoch_not_the_last(kitti, tiny_vgg, tmp_path, monkeypatch):
    # Epochs 3 and 4 train on swapped labels: the model gets worse on purpose.
    spoil_batches(monkeypatch, lambda epoch, images, labels: (images, labels[..., ::-1] if epoch > 2 else labels))
    run_dir = main.run(tiny_args(kitti, tiny_vgg, str(tmp_path / 'runs')) +
                       ['--eval-every', '1', '--keep-best', 'road_iou'])
    with open(os.path.join(run_dir, 'metrics.json')) as f:
        results = json.load(f)
    scores = [e['road_iou'] for e in results['evaluations']]
    assert [e['epoch'] for e in results['evaluations']] == [1, 2, 3, 4]
    assert scores[3] < max(scores[:2]) - 0.2, scores
    assert results['best']['epoch'] == results['saved_epoch'] == 1 + int(np.argmax(scores))
    assert results['road']['iou'] == pytest.approx(max(scores), abs=1e-6)   # the final table is the best's
    best = tf.train.load_checkpoint(os.path.join(run_dir, 'checkpoints', results['best']['checkpoint']))
    saved = model_weights(run_dir)
    for name, value in saved.items():
        np.testing.assert_array_equal(value, best.get_tensor(name), err_msg=name)

    # One point per epoch in TensorBoard and in curves.png.
    events = [e for f in glob.glob(os.path.join(run_dir, curves.TENSORBOARD_DIR, '*'))
              for e in tf.train.summary_iterator(f)]
    tags = [v.tag for e in events for v in e.summary.value]
    assert tags.count(curves.EPOCH_LOSS) == 4 and tags.count(curves.VAL_PREFIX + 'road_iou') == 4
    assert tags.count(curves.TRAIN_LOSS) == 4 * 6            # 12 training images, batch 2
    assert tags.count(curves.VAL_IMAGES + '/0') == 4
    assert os.path.getsize(os.path.join(run_dir, curves.CURVES_FILE)) > 0
    series = curves.plot(str(tmp_path / 'again.png'), results['epoch_mean_loss'], results['evaluations'],
                         'road_iou')
    assert series['loss'][0] == series['road_iou'][0] == [1, 2, 3, 4]


def test_keep_best_needs_validation(tmp_path):
    with pytest.raises(SystemExit, match='--keep-best road_iou needs --eval-every'):
        main.run(['--data-dir', str(tmp_path), '--no-download', '--keep-best', 'road_iou', '--eval-every', '0'])


def test_diverged_run_leaves_its_last_good_checkpoint_resumable(kitti, tiny_vgg, tmp_path, monkeypatch):
    real = main.TUTORIAL
    spoil_batches(monkeypatch, lambda epoch, images, labels: (images * np.nan if epoch == 2 else images, labels))
    runs = tmp_path / 'runs'
    with pytest.raises(SystemExit, match='training diverged: .*--resume'):
        main.run(tiny_args(kitti, tiny_vgg, str(runs)))
    run_dir, = [str(p) for p in runs.iterdir()]
    with open(os.path.join(run_dir, 'metrics.json')) as f:
        assert json.load(f)['diverged']
    _, state = checkpoints.latest_checkpoint(os.path.join(run_dir, 'checkpoints'))
    assert (state.epoch, state.step) == (1, 0)
    monkeypatch.setattr(main, 'TUTORIAL', real)
    finished = main.run(['--resume', run_dir])
    assert finished == run_dir
    with open(os.path.join(finished, 'metrics.json')) as f:
        results = json.load(f)
    assert not results['diverged'] and len(results['epoch_mean_loss']) == 4
    evaluate.main(['--model', os.path.join(finished, 'model'), '--data-dir', kitti])


def test_interrupted_augmented_run_resumes_to_the_same_weights(kitti, tiny_vgg, tmp_path, monkeypatch):
    args = tiny_args(kitti, tiny_vgg, str(tmp_path / 'runs'), epochs=2) + ['--augment']
    reference = main.run(tiny_args(kitti, tiny_vgg, str(tmp_path / 'reference'), epochs=2) + ['--augment'])
    real_after_step = loop.TrainingHooks.after_step

    def stop_at_step_8(self, sess, state, loss, learning_rate):    # mid-epoch 2 (6 steps an epoch)
        real_after_step(self, sess, state, loss, learning_rate)
        self.stop.requested = 'SIGINT' if state.global_step == 8 else self.stop.requested
        return self.stop.requested is not None

    monkeypatch.setattr(loop.TrainingHooks, 'after_step', stop_at_step_8)
    with pytest.raises(SystemExit) as stopped:
        main.run(args)
    assert stopped.value.code == 128 + signal.SIGINT
    partial, = glob.glob(os.path.join(str(tmp_path / 'runs'), '*.partial'))
    _, state = checkpoints.latest_checkpoint(os.path.join(partial, 'checkpoints'))
    assert (state.epoch, state.step) == (1, 2)
    monkeypatch.setattr(loop.TrainingHooks, 'after_step', real_after_step)
    assert_same_weights(model_weights(main.run(['--resume', partial])), model_weights(reference))


def test_interrupted_recursive_box_run_resumes_with_its_relabelled_round(kitti, tiny_vgg, tmp_path, monkeypatch):
    weak_flags = ['--supervision', 'boxes-recursive', '--recursive-rounds', '1', '--weak-cache', str(tmp_path / 'w')]
    args = tiny_args(kitti, tiny_vgg, str(tmp_path / 'runs')) + weak_flags
    reference = main.run(tiny_args(kitti, tiny_vgg, str(tmp_path / 'reference')) + weak_flags)
    real_after_step = loop.TrainingHooks.after_step

    def stop_in_round_2(self, sess, state, loss, learning_rate):   # epoch 3 of 4: after the relabelling
        real_after_step(self, sess, state, loss, learning_rate)
        self.stop.requested = 'SIGINT' if state.global_step == 15 else self.stop.requested
        return self.stop.requested is not None

    monkeypatch.setattr(loop.TrainingHooks, 'after_step', stop_in_round_2)
    with pytest.raises(SystemExit):
        main.run(args)
    partial, = glob.glob(os.path.join(str(tmp_path / 'runs'), '*.partial'))
    assert os.path.isfile(os.path.join(partial, weak_rounds.WEAK_ROUNDS_DIR, 'round-1', 'complete.json'))
    monkeypatch.setattr(loop.TrainingHooks, 'after_step', real_after_step)
    assert_same_weights(model_weights(main.run(['--resume', partial])), model_weights(reference))


def checkpoint_names(folder):
    return sorted({os.path.basename(p).split('.', 1)[0] for p in glob.glob(os.path.join(folder, 'epoch-*'))})


def test_kill_9_while_a_checkpoint_is_written_loses_one_interval_and_resume_finishes(kitti, tiny_vgg, reference,
                                                                                   tmp_path):
    runs, marker = str(tmp_path / 'runs'), str(tmp_path / 'paused')
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, 'main.py')] + tiny_args(kitti, tiny_vgg, runs),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
                            env=dict(os.environ, **{checkpoints.PAUSE_IN_SAVE_ENV: '2:' + marker}))
    try:
        for _ in range(600):            # the second checkpoint (epoch 2) stops half-written
            if os.path.exists(marker) or proc.poll() is not None:
                break
            time.sleep(0.5)
        assert os.path.exists(marker), proc.communicate(timeout=60)[1][-3000:]
    finally:
        proc.kill()                     # SIGKILL: no handler, no clean-up
        proc.wait(timeout=60)
    partial, = glob.glob(os.path.join(runs, '*.partial'))
    folder = os.path.join(partial, 'checkpoints')
    assert checkpoint_names(folder) == ['epoch-001', 'epoch-002']      # epoch 2's variables, no state
    assert not os.path.exists(os.path.join(folder, 'epoch-002' + checkpoints.STATE_SUFFIX))
    _, state = checkpoints.latest_checkpoint(folder)
    assert (state.epoch, state.step) == (1, 0)

    run_dir = main.run(['--resume', partial])
    assert_same_weights(model_weights(run_dir), model_weights(reference))
    assert checkpoint_names(os.path.join(run_dir, 'checkpoints')) == ['epoch-004']   # the half-written one is gone


def test_too_little_space_for_a_checkpoint_stops_in_one_line_keeping_the_previous(kitti, tiny_vgg, tmp_path,
                                                                                monkeypatch):
    from fcnroad import files
    calls = []

    def one_checkpoint_fits(path):
        calls.append(path)
        return 10 ** 12 if len(calls) == 1 else 1000
    monkeypatch.setattr(files, 'free_bytes', one_checkpoint_fits)
    runs = str(tmp_path / 'runs')
    with pytest.raises(SystemExit, match=r'disk full: .*checkpoints: a checkpoint needs [\d.]+ [MG]B, 0 MB free\. '
                                         r'Nothing was '
                                         r'written; the previous checkpoint is kept in .*continue with:\n    '
                                         r'python main.py --resume '):
        main.run(tiny_args(kitti, tiny_vgg, runs, epochs=3))
    partial, = glob.glob(os.path.join(runs, '*.partial'))
    assert checkpoint_names(os.path.join(partial, 'checkpoints')) == ['epoch-001']
    monkeypatch.setattr(files, 'free_bytes', lambda path: 10 ** 12)
    with open(os.path.join(main.run(['--resume', partial]), 'metrics.json')) as f:
        assert len(json.load(f)['epoch_mean_loss']) == 3


def test_too_little_space_for_the_model_keeps_the_last_checkpoint_to_write_it_later(kitti, tiny_vgg, tmp_path,
                                                                                  monkeypatch):
    from fcnroad import files
    monkeypatch.setattr(files, 'free_bytes', lambda path: 10 ** 12 if path.endswith('checkpoints') else 1000)
    runs = str(tmp_path / 'runs')
    with pytest.raises(SystemExit, match=r'disk full: .*\.partial: the model needs [\d.]+ [MG]B, 0 MB free'):
        main.run(tiny_args(kitti, tiny_vgg, runs, epochs=2))
    partial, = glob.glob(os.path.join(runs, '*.partial'))
    assert not os.path.exists(os.path.join(partial, 'model'))
    monkeypatch.setattr(files, 'free_bytes', lambda path: 10 ** 12)
    run_dir = main.run(['--resume', partial])       # nothing left to train: the model is written
    assert os.path.isfile(os.path.join(run_dir, 'model', 'saved_model.pb'))


def test_a_finished_run_keeps_one_checkpoint_or_none(kitti, tiny_vgg, reference, tmp_path):
    assert checkpoint_names(os.path.join(reference, 'checkpoints')) == ['epoch-004']
    run_dir = main.run(tiny_args(kitti, tiny_vgg, str(tmp_path / 'runs'), epochs=2) + ['--no-keep-checkpoint'])
    assert not os.path.exists(os.path.join(run_dir, 'checkpoints'))
    assert os.path.isfile(os.path.join(run_dir, 'metrics.json'))


def test_no_space_for_the_first_checkpoint_leaves_no_run_folder(kitti, tiny_vgg, tmp_path, monkeypatch):
    from fcnroad import files
    monkeypatch.setattr(files, 'free_bytes', lambda path: 1000)
    with pytest.raises(SystemExit, match=r'checkpoints: a checkpoint needs .* No checkpoint was written yet, so the '
                                         r'run is not kept'):
        main.run(tiny_args(kitti, tiny_vgg, str(tmp_path / 'runs'), epochs=2))
    assert os.listdir(tmp_path / 'runs') == []
