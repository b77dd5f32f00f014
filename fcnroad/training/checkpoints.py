"""Training that never loses its work: checkpoints, the state that resumes a run, stop on a signal.

A checkpoint is every variable (the optimizers' slots included) saved by
tf.train.Saver plus a JSON state: epochs done, steps done in the current
epoch, the losses so far, the evaluations, and the data order's random
state at the start of the current epoch.  `latest.json` names the newest
complete checkpoint and is replaced atomically after both files are written,
so a write that fails half-way leaves the previous checkpoint the valid one.  Before a
checkpoint is written the free space is checked against its size (files.DiskFull when short).
"""
import glob
import json
import os
import signal
import threading

import numpy as np

from fcnroad.files import check_free_space, write_json_atomic

LATEST = 'latest.json'
BEST = 'best.json'
STATE_SUFFIX = '.state.json'
# Test hook: "N:PATH" makes the N-th save of the process stop half-way (variables written,
# latest.json not yet moved), create PATH and wait there to be killed.
PAUSE_IN_SAVE_ENV = 'FCN8_TEST_PAUSE_IN_CHECKPOINT'
SPACE_MARGIN = 1.05     # the index, the state's JSON and the file system's blocks


class TrainingState:
    """Where training stands; JSON-serialisable so a run can continue from it."""

    def __init__(self, epoch=0, step=0, global_step=0, history=None, epoch_losses=None,
                 evaluations=None, rng_state=None, best=None):
        self.epoch = epoch                      # epochs completed
        self.step = step                        # steps completed in epoch + 1
        self.global_step = global_step
        self.history = list(history or [])      # mean loss of each completed epoch
        self.epoch_losses = list(epoch_losses or [])
        self.evaluations = list(evaluations or [])   # [{'epoch': n, metric: value, ...}]
        self.rng_state = rng_state              # data order's RandomState at the start of epoch + 1
        self.best = best                        # {'epoch': n, 'metric': name, 'value': v} with --keep-best

    def to_json(self):
        return dict(vars(self))

    @classmethod
    def from_json(cls, data):
        return cls(**data)

    def capture_rng(self, rng):
        name, keys, pos, has_gauss, cached = rng.get_state()
        self.rng_state = [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]

    def restore_rng(self, rng):
        if self.rng_state is not None:
            name, keys, pos, has_gauss, cached = self.rng_state
            rng.set_state((name, np.asarray(keys, np.uint32), pos, has_gauss, cached))

    @property
    def name(self):
        """epoch-002 at an epoch's end, epoch-002-step-00005 mid-epoch (after 5 steps of epoch 3)."""
        return 'epoch-%03d' % self.epoch + ('-step-%05d' % self.step if self.step else '')


class CheckpointError(ValueError):
    """A folder that holds no usable checkpoint; the message names it."""


class Checkpointer:
    """Saves and restores the checkpoints of one run folder, keeping the newest `keep`."""

    def __init__(self, folder, variables, keep=1):
        import tensorflow.compat.v1 as tf
        self.folder = folder
        self.keep = max(1, keep)
        self.saver = tf.train.Saver(variables, max_to_keep=None, save_relative_paths=True)
        self.size = variables_bytes(variables)
        self.saves = 0

    @property
    def saved(self):
        """Whether the folder holds a complete checkpoint (this run's, or the one it resumed from)."""
        return os.path.isfile(os.path.join(self.folder, LATEST))

    def save(self, sess, state):
        """Write a checkpoint of `state`; only when every file is there does latest.json point to it."""
        os.makedirs(self.folder, exist_ok=True)
        check_free_space(self.folder, int(self.size * SPACE_MARGIN), 'a checkpoint')
        prefix = os.path.join(self.folder, state.name)
        self.saves += 1
        try:
            self.saver.save(sess, prefix, write_meta_graph=False, write_state=False)
            _pause_if_asked(self.saves)
            write_json_atomic(prefix + STATE_SUFFIX, state.to_json())
        except BaseException:
            _remove_checkpoint(prefix)
            raise
        write_json_atomic(os.path.join(self.folder, LATEST), {'checkpoint': state.name})
        self._prune(keep_also=state.name)
        return prefix

    def _prune(self, keep_also):
        names = sorted(os.path.basename(p)[:-len(STATE_SUFFIX)]
                       for p in glob.glob(os.path.join(self.folder, 'epoch-*' + STATE_SUFFIX)))
        for name in names[:-self.keep]:
            if name != keep_also:
                _remove_checkpoint(os.path.join(self.folder, name))
        # A write killed half-way (kill -9, power) leaves variables without a state: never resumable.
        written = {os.path.basename(p).split('.', 1)[0] for p in glob.glob(os.path.join(self.folder, 'epoch-*'))}
        for name in written - set(names):
            _remove_checkpoint(os.path.join(self.folder, name))

    def restore(self, sess, prefix):
        self.saver.restore(sess, prefix)


def variables_bytes(variables):
    """Bytes of the variables' values: what a checkpoint of them holds."""
    return sum(v.shape.num_elements() * v.dtype.base_dtype.size for v in variables)


def _pause_if_asked(saves):
    asked = os.environ.get(PAUSE_IN_SAVE_ENV)
    if asked and int(asked.split(':', 1)[0]) == saves:
        with open(asked.split(':', 1)[1], 'w') as f:
            f.write(str(os.getpid()))
        threading.Event().wait()


def _remove_checkpoint(prefix):
    for path in glob.glob(glob.escape(prefix) + '.*'):
        os.remove(path)


def latest_checkpoint(folder):
    """(prefix, TrainingState) of the newest complete checkpoint in folder; CheckpointError if none."""
    pointer = os.path.join(folder, LATEST)
    if not os.path.isfile(pointer):
        raise CheckpointError('%s: no complete checkpoint (no %s)' % (folder, LATEST))
    try:
        with open(pointer) as f:
            name = json.load(f)['checkpoint']
        prefix = os.path.join(folder, name)
        with open(prefix + STATE_SUFFIX) as f:
            state = TrainingState.from_json(json.load(f))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError('%s: cannot read the latest checkpoint (%s)' % (folder, e)) from None
    if not os.path.isfile(prefix + '.index'):
        raise CheckpointError('%s: the latest checkpoint %s has no variables' % (folder, name))
    return prefix, state


class BestWeights:
    """The weights of the best evaluation so far, saved beside the checkpoints (atomically, by pointer)."""

    def __init__(self, folder, variables, metric):
        import tensorflow.compat.v1 as tf
        self.folder = folder
        self.metric = metric
        self.saver = tf.train.Saver(variables, max_to_keep=None, save_relative_paths=True)
        self.size = variables_bytes(variables)

    def offer(self, sess, state, value):
        """Save the weights if `value` beats the best so far; returns True when it did."""
        if value != value or (state.best is not None and value <= state.best['value']):
            return False
        os.makedirs(self.folder, exist_ok=True)
        check_free_space(self.folder, int(self.size * SPACE_MARGIN), 'the best weights')
        name = 'best-epoch-%03d' % state.epoch
        prefix = os.path.join(self.folder, name)
        try:
            self.saver.save(sess, prefix, write_meta_graph=False, write_state=False)
        except BaseException:
            _remove_checkpoint(prefix)
            raise
        old = state.best
        state.best = {'epoch': state.epoch, 'metric': self.metric, 'value': float(value), 'checkpoint': name}
        write_json_atomic(os.path.join(self.folder, BEST), state.best)
        if old and old.get('checkpoint') and old['checkpoint'] != name:
            _remove_checkpoint(os.path.join(self.folder, old['checkpoint']))
        return True

    def restore(self, sess, state):
        self.saver.restore(sess, os.path.join(self.folder, state.best['checkpoint']))


class StopOnSignal:
    """SIGINT / SIGTERM ask training to stop after the current step; a second one stops at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.requested = None
        self.previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name
        print('\n%s: finishing the current step, then writing a checkpoint (send it again to stop at once)'
              % self.requested, flush=True)

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous = {}
        return False


def initialise_from_model(sess, model_dir, variables):
    """Set variables to a saved model's weights (main.py --init-model): every one of them must be in the model's
    checkpoint with the same shape, or a CheckpointError names the first that is not."""
    import tensorflow.compat.v1 as tf
    prefix = os.path.join(model_dir, 'variables', 'variables')
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (ValueError, tf.errors.OpError) as e:
        raise CheckpointError('%s: no weights to start from (%s)' % (model_dir, str(e).split('\n')[0])) from None
    shapes = reader.get_variable_to_shape_map()
    feeds = {}
    for variable in variables:
        name = variable.op.name
        if name not in shapes:
            raise CheckpointError('%s: has no %s, which this network has: it is another network' % (model_dir, name))
        if tuple(shapes[name]) != tuple(variable.shape.as_list()):
            raise CheckpointError('%s: its %s is %s, this network\'s %s' % (
                model_dir, name, tuple(shapes[name]), tuple(variable.shape.as_list())))
        feeds[variable] = reader.get_tensor(name)
    placeholders = {v: tf.placeholder(v.dtype.base_dtype, v.shape) for v in feeds}
    sess.run([v.assign(p) for v, p in placeholders.items()], {p: feeds[v] for v, p in placeholders.items()})
    return len(feeds)
