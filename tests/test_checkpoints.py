import os
import signal

import numpy as np
import pytest

from fcnroad.training import checkpoints

tf = pytest.importorskip('tensorflow').compat.v1


@pytest.fixture
def graph():
    with tf.Graph().as_default() as g:
        weights = tf.get_variable('weights', initializer=tf.zeros([3]))
        value = tf.placeholder(tf.float32, [3])
        assign = weights.assign(value)
        with tf.Session(graph=g) as sess:
            sess.run(tf.global_variables_initializer())
            yield sess, weights, lambda v: sess.run(assign, {value: v})


def test_state_round_trips_through_json_with_the_data_order():
    rng = np.random.RandomState(5)
    rng.permutation(10)
    state = checkpoints.TrainingState(epoch=2, step=3, global_step=11, history=[0.5, 0.4], epoch_losses=[0.3])
    state.capture_rng(rng)
    expected = rng.permutation(10)
    again = checkpoints.TrainingState.from_json(state.to_json())
    other = np.random.RandomState(0)
    again.restore_rng(other)
    np.testing.assert_array_equal(other.permutation(10), expected)
    assert again.name == 'epoch-002-step-00003' and again.history == [0.5, 0.4]


def test_keeps_the_newest_checkpoints_and_points_to_the_latest(tmp_path, graph):
    sess, weights, set_weights = graph
    saver = checkpoints.Checkpointer(str(tmp_path), tf.global_variables(), keep=2)
    for epoch in (1, 2, 3):
        set_weights([epoch] * 3)
        saver.save(sess, checkpoints.TrainingState(epoch=epoch))
    states = sorted(f for f in os.listdir(tmp_path) if f.endswith(checkpoints.STATE_SUFFIX))
    assert states == ['epoch-002.state.json', 'epoch-003.state.json']
    prefix, state = checkpoints.latest_checkpoint(str(tmp_path))
    assert state.epoch == 3
    set_weights([0] * 3)
    saver.restore(sess, prefix)
    np.testing.assert_array_equal(sess.run(weights), [3, 3, 3])


def test_a_write_that_fails_half_way_leaves_the_previous_checkpoint_valid(tmp_path, graph, monkeypatch):
    sess, weights, set_weights = graph
    saver = checkpoints.Checkpointer(str(tmp_path), tf.global_variables(), keep=2)
    set_weights([1, 2, 3])
    saver.save(sess, checkpoints.TrainingState(epoch=1))

    def disk_full(sess, prefix, **kwargs):
        with open(prefix + '.data-00000-of-00001', 'wb') as f:
            f.write(b'half')                    # a torn write, then the failure
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(saver.saver, 'save', disk_full)
    set_weights([9, 9, 9])
    with pytest.raises(OSError, match='No space left'):
        saver.save(sess, checkpoints.TrainingState(epoch=2))
    assert not [f for f in os.listdir(tmp_path) if f.startswith('epoch-002')]
    prefix, state = checkpoints.latest_checkpoint(str(tmp_path))
    assert state.epoch == 1
    saver.restore(sess, prefix)
    np.testing.assert_array_equal(sess.run(weights), [1, 2, 3])


def test_folder_without_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(checkpoints.CheckpointError, match='no complete checkpoint'):
        checkpoints.latest_checkpoint(str(tmp_path))
    (tmp_path / checkpoints.LATEST).write_text('{"checkpoint": "epoch-004"}')
    with pytest.raises(checkpoints.CheckpointError, match='cannot read the latest checkpoint'):
        checkpoints.latest_checkpoint(str(tmp_path))


def test_best_weights_are_replaced_only_by_better_ones(tmp_path, graph):
    sess, weights, set_weights = graph
    best = checkpoints.BestWeights(str(tmp_path), tf.global_variables(), 'road_iou')
    state = checkpoints.TrainingState()
    for epoch, score in ((1, 0.5), (2, 0.8), (3, 0.6), (4, float('nan'))):
        state.epoch = epoch
        set_weights([epoch] * 3)
        assert best.offer(sess, state, score) == (epoch in (1, 2))
    assert state.best['epoch'] == 2 and state.best['value'] == 0.8
    assert sorted(f for f in os.listdir(tmp_path) if f.startswith('best-epoch-001')) == []
    set_weights([0] * 3)
    best.restore(sess, state)
    np.testing.assert_array_equal(sess.run(weights), [2, 2, 2])


def test_first_signal_asks_to_stop_second_stops_at_once():
    # Whatever the process inherited (a background launch starts with SIGINT ignored).
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    with checkpoints.StopOnSignal() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested == 'SIGTERM'
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert {sig: signal.getsignal(sig) for sig in before} == before
