"""An exponential moving average of the weights (--ema DECAY), kept beside them while training.

Validation, --keep-best and the saved model read the average; the steps move the weights themselves.
The average starts equal to the weights once they are initialised (ImageNet's, --init-model's), and its
decay is debiased at the start as TensorFlow's ExponentialMovingAverage does with num_updates, so the first
steps are not averaged with the starting point for long.  The shadows and their step count are variables:
checkpoints hold them, so a resumed run goes on averaging where it stopped.
"""
import contextlib

import tensorflow as tf2

tf = tf2.compat.v1

SCOPE = 'weight_average'


class WeightAverage:
    """Shadow copies of `variables` and the ops that keep, start and swap them in."""

    def __init__(self, variables, decay):
        if not 0.0 < decay < 1.0:
            raise ValueError('the average\'s decay must be in (0, 1), not %r' % decay)
        self.variables = [v for v in variables if v.dtype.base_dtype.is_floating]
        self.decay = decay
        with tf.variable_scope(SCOPE):
            self.count = tf.get_variable('count', [], tf.float32, tf.zeros_initializer(), trainable=False)
            self.shadows = [tf.get_variable(v.op.name, v.shape, v.dtype.base_dtype, tf.zeros_initializer(),
                                            trainable=False) for v in self.variables]
        with tf.name_scope(SCOPE):
            self.start = tf.group(self.count.assign(0.0), *[s.assign(v) for s, v in zip(self.shadows, self.variables)],
                                  name='start')
            self.swap = self._swap_op()

    def _swap_op(self):
        """Exchange the weights and their averages (run twice: back as they were)."""
        pairs = list(zip(self.variables, self.shadows))
        # Copies, not reads: a read of a reference variable may share its buffer, which the assign then overwrites.
        values = [(tf.raw_ops.DeepCopy(x=v.value()), tf.raw_ops.DeepCopy(x=s.value())) for v, s in pairs]
        with tf.control_dependencies([t for pair in values for t in pair]):     # both copied before either is written
            return tf.group(*[op for (v, s), (value, shadow) in zip(pairs, values)
                              for op in (v.assign(shadow), s.assign(value))], name='swap')

    def after(self, train_op):
        """train_op, then the average moved towards the new weights: decay debiased by the steps so far."""
        with tf.control_dependencies([train_op]), tf.name_scope(SCOPE):
            count = self.count.assign_add(1.0)
            decay = tf.minimum(self.decay, count / (count + 9.0))     # (1 + n) / (10 + n) after n earlier steps
            updates = [s.assign_sub((1.0 - tf.cast(decay, s.dtype.base_dtype)) * (s - v))
                       for s, v in zip(self.shadows, self.variables)]
            return tf.group(*updates, name='train_op_averaged')

    @contextlib.contextmanager
    def applied(self, sess):
        """The averages in the weights' place inside the block, the weights back after it (also on errors)."""
        sess.run(self.swap)
        try:
            yield
        finally:
            sess.run(self.swap)
