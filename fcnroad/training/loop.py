"""The training loop's machinery around train_nn: the rate schedule, stopping on NaN or a signal,
the hooks run between steps and epochs, and the variables load_vgg did not restore."""
import contextlib
import os
import time

import tensorflow as tf2
from tqdm import tqdm

from fcnroad import models
from fcnroad.training import curves
from fcnroad.training.options import DEFAULTS

tf = tf2.compat.v1


def learning_rate_schedule(base, schedule, total_steps, power=DEFAULTS['lr_power']):
    """The learning rate of each step: `base` throughout, or decayed polynomially to 0 ('poly')."""
    if schedule == 'constant':
        return lambda step: base
    if schedule == 'poly':
        return lambda step: base * max(0.0, 1.0 - step / float(total_steps)) ** power
    raise ValueError("learning-rate schedule must be 'constant' or 'poly', not %r" % schedule)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good weights were restored."""


def divergence_advice(args, precision_name):
    """What to change after a diverged run, from the settings it actually used (none already in use)."""
    advice = []
    if precision_name != 'float32':
        advice.append('train in float32 (--mixed-precision off; it may be given with --resume)')
    advice.append('lower --learning-rate (it was %g; try %g)' % (args.learning_rate, args.learning_rate / 10))
    if not args.clip_norm:
        advice.append('clip the gradients (--clip-norm %g)' % DEFAULTS['clip_norm'])
    elif args.clip_norm > 1:
        advice.append('clip the gradients tighter (--clip-norm was %g; try %g)' % (args.clip_norm, args.clip_norm / 10))
    if args.model == models.TUTORIAL_MODEL and args.decoder != DEFAULTS['decoder']:
        advice.append('use the FCN authors\' decoder (--decoder %s)' % DEFAULTS['decoder'])
    return '; '.join(advice)


class TrainingInterrupted(Exception):
    """Training was asked to stop (a signal); `state` is where it stands after the last step."""

    def __init__(self, state, reason):
        super().__init__(reason)
        self.state = state


class Snapshot:
    """The values of all variables in memory, to go back to after a NaN."""

    def __init__(self, sess):
        self.sess = sess
        self.variables = tf.global_variables()
        self.values = None
        self.placeholders = [tf.placeholder(v.dtype.base_dtype, v.shape) for v in self.variables]
        self.assign = tf.group(*[v.assign(p) for v, p in zip(self.variables, self.placeholders)]) \
            if self.variables else tf.no_op()

    def take(self):
        self.values = self.sess.run(self.variables)

    def restore(self):
        self.sess.run(self.assign, dict(zip(self.placeholders, self.values)))


class TrainingHooks:
    """What run() does between steps and epochs: TensorBoard, evaluation, best weights, checkpoints, curves.

    Checkpoints: at the end of every checkpoint_every-th epoch, but at most one per
    checkpoint_minutes (0: no limit); when that many minutes pass inside an epoch, one mid-epoch;
    always after a validation and at the end (unless save_last is False), and, from the trainer, on a signal.
    checkpoint_every 0: none but the signal's.
    """

    def __init__(self, run_folder, checkpointer, stop, events, evaluate_fn=None, eval_every=0,
                 best=None, checkpoint_every=1, curve_metric=None, checkpoint_minutes=0.0, save_last=True,
                 clock=time.monotonic, average=None):
        self.checkpoint_seconds = 60.0 * checkpoint_minutes
        self.save_last = save_last      # False: the run keeps no checkpoint once finished, so none is written last
        self.clock = clock
        self.last_save = clock()
        self.run_folder = run_folder
        self.checkpointer = checkpointer
        self.stop = stop
        self.events = events
        self.evaluate_fn = evaluate_fn
        self.eval_every = eval_every
        self.best = best
        self.checkpoint_every = checkpoint_every
        self.curve_metric = curve_metric
        self.last_evaluation = None     # (epoch, scoring.evaluate results) of the newest validation
        self.average = average          # averaging.WeightAverage: validated and kept as best in the weights' place

    @property
    def stop_reason(self):
        return self.stop.requested

    def after_step(self, sess, state, loss, learning_rate):
        self.events.scalars(state.global_step, {curves.TRAIN_LOSS: loss, curves.TRAIN_LEARNING_RATE: learning_rate})
        if self.stop.requested is not None:
            return True
        if self.checkpoint_every and self.checkpoint_seconds and self.since_save() >= self.checkpoint_seconds:
            self.save(sess, state)      # an epoch longer than the interval: a crash loses one interval at most
        return False

    def since_save(self):
        return self.clock() - self.last_save

    def after_epoch(self, sess, state, epochs):
        self.events.scalars(state.global_step, {curves.EPOCH_LOSS: state.history[-1]})
        last = state.epoch == epochs
        validated = False
        if self.eval_every and (state.epoch % self.eval_every == 0 or last):
            validated = True
            with self.average.applied(sess) if self.average is not None else contextlib.nullcontext():
                results, painted = self.evaluate_fn(sess)
                values = curves.val_metrics(results)
                note = ''
                if self.best is not None and self.best.offer(sess, state, values.get(self.best.metric, float('nan'))):
                    note = '  (best so far: weights kept)'
            self.last_evaluation = (state.epoch, results)
            if self.average is not None:    # the weights themselves, for comparison
                values.update({curves.RAW_PREFIX + k: v for k, v in curves.val_metrics(self.evaluate_fn(sess)[0]).items()})
            state.evaluations.append(dict(epoch=state.epoch, **values))
            self.events.scalars(state.global_step, {curves.VAL_PREFIX + k: v for k, v in values.items()})
            self.events.images(state.global_step, curves.VAL_IMAGES, painted)
            print('  validation after epoch %d: %s%s' % (state.epoch, '  '.join(
                '%s %.4f' % (k, v) for k, v in values.items()), note), flush=True)
        if self.checkpoint_every and (self.save_last if last else validated or (
                state.epoch % self.checkpoint_every == 0 and self.since_save() >= self.checkpoint_seconds)):
            self.save(sess, state)
        self.events.flush()

    def save(self, sess, state):
        prefix = self.checkpointer.save(sess, state)
        self.last_save = self.clock()
        self.plot(state)
        tqdm.write('  checkpoint %s' % prefix)    # mid-epoch, below the progress bar

    def plot(self, state):
        return curves.plot(os.path.join(self.run_folder, curves.CURVES_FILE), state.history,
                           state.evaluations, self.curve_metric)


def initialize_new_variables(sess):
    """Initialise what load_vgg did not restore: a global initializer would wipe the VGG weights."""
    uninitialized = set(sess.run(tf.report_uninitialized_variables()))
    sess.run(tf.variables_initializer(
        [v for v in tf.global_variables() if v.op.name.encode() in uninitialized]))
