import pytest

from fcnroad.training import loop, options


def test_poly_schedule_decays_to_zero_and_constant_stays():
    poly = loop.learning_rate_schedule(1e-3, 'poly', total_steps=10, power=1.0)
    assert [poly(s) for s in (0, 5, 10)] == pytest.approx([1e-3, 5e-4, 0.0])
    assert loop.learning_rate_schedule(1e-3, 'poly', 10, power=0.9)(5) == pytest.approx(1e-3 * 0.5 ** 0.9)
    assert loop.learning_rate_schedule(1e-3, 'constant', 10)(7) == 1e-3
    with pytest.raises(ValueError, match='step'):
        loop.learning_rate_schedule(1e-3, 'step', 10)


def test_divergence_advice_names_only_changes_not_already_in_use():
    args = options.build_parser().parse_args([])
    advice = loop.divergence_advice(args, 'bfloat16')
    assert '--mixed-precision off' in advice and 'it was 0.0001; try 1e-05' in advice
    assert '--clip-norm was 10; try 1' in advice and '--decoder' not in advice   # fcn8s's decoder is in use
    args = options.build_parser().parse_args(['--decoder', 'tutorial', '--clip-norm', '0', '--learning-rate', '0.001'])
    advice = loop.divergence_advice(args, 'float32')
    assert '--mixed-precision' not in advice and '--decoder fcn8s' in advice
    assert 'clip the gradients (--clip-norm 10)' in advice and 'it was 0.001' in advice


class RecordingCheckpointer:
    def __init__(self):
        self.saved = []

    def save(self, sess, state):
        self.saved.append((state.epoch, state.step))
        return 'epoch-%d-%d' % (state.epoch, state.step)


class NoEvents:
    def scalars(self, *args):
        pass

    images = flush = scalars


def checkpoints_of_a_run(tmp_path, epochs=6, steps=3, seconds_per_step=130, **settings):
    """(epoch, step) of every checkpoint TrainingHooks writes in a simulated run on a fake clock."""
    from fcnroad.training import checkpoints
    clock = [0.0]
    saver = RecordingCheckpointer()
    hooks = loop.TrainingHooks(str(tmp_path), saver, checkpoints.StopOnSignal(), NoEvents(),
                               evaluate_fn=lambda sess: ({'mean_iou': 0.5, 'pixel_accuracy': 0.9}, []), clock=lambda: clock[0], **settings)
    state = checkpoints.TrainingState()
    for epoch in range(1, epochs + 1):
        for _ in range(steps):
            clock[0] += seconds_per_step
            state.step += 1
            state.global_step += 1
            state.epoch_losses.append(1.0)
            assert not hooks.after_step(None, state, 1.0, 1e-3)
        state.history.append(1.0)
        state.epoch, state.step, state.epoch_losses = epoch, 0, []
        hooks.after_epoch(None, state, epochs)
    return saver.saved


def test_checkpoints_come_at_most_once_per_interval_and_at_every_validation_and_the_end(tmp_path):
    # 130 s a step, 3 steps an epoch, 10 minutes: the interval runs out mid-epoch 2 (650 s) and
    # mid-epoch 5 (650 s after the validation of epoch 3); epochs 3 (validation) and 6 (the end) always.
    assert checkpoints_of_a_run(tmp_path, checkpoint_minutes=10, eval_every=3) == [(1, 2), (3, 0), (4, 2), (6, 0)]
    # No interval: every epoch, as --checkpoint-every 1 alone.
    assert checkpoints_of_a_run(tmp_path, checkpoint_minutes=0) == [(e, 0) for e in range(1, 7)]
    assert checkpoints_of_a_run(tmp_path, checkpoint_minutes=0, checkpoint_every=2) == [(2, 0), (4, 0), (6, 0)]
    # A run that keeps no checkpoint writes none at its end.
    assert checkpoints_of_a_run(tmp_path, checkpoint_minutes=0, save_last=False) == [(e, 0) for e in range(1, 6)]
    assert checkpoints_of_a_run(tmp_path, checkpoint_minutes=10, checkpoint_every=0, eval_every=3) == []
