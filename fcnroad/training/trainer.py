"""One training run, given the tutorial's functions: the graph, the session, train_nn with its
hooks, then the saved model, metrics.json and the painted samples.

The run folder is written as runs/<ts>.partial and renamed when complete; a run that stops is
deleted, unless it has checkpoints to resume, and then the command that resumes it is printed.
"""
import collections
import contextlib
import dataclasses
import os
import shutil
import signal
import sys
import tempfile
import time
import typing

import tensorflow as tf2

from fcnroad import errors, files, models
from fcnroad.data import arrays
from fcnroad.evaluation import metrics, scoring
from fcnroad.models import encoders
from fcnroad.serving.paint import class_colours, paint
from fcnroad.serving.saved_model import save_model
from fcnroad.training import (averaging, checkpoints, curves, distribute, loop, network, options, precision,
                              run_folder, weak_rounds)

tf = tf2.compat.v1

# What main.py hands over: the tutorial's four functions and the two of helper.py that feed and paint.
Tutorial = collections.namedtuple('Tutorial', 'load_vgg layers optimize train_nn gen_batch_function '
                                              'save_inference_samples')


def start_distribution(args):
    """The tf.distribute setup of --distribute, or None; before TensorFlow's devices start (--logical-cpus)."""
    if args.distribute == 'none':
        return None
    try:
        config = precision.session_config(run_precision(args).rewrite, args.xla)
        setup = distribute.setup(args.distribute, config, args.logical_cpus)
    except distribute.DistributeError as e:
        raise errors.RunError(str(e))
    print(setup.describe())
    return setup


def run_precision(args, setup=None):
    """The Precision the run trains in: --mixed-precision on this machine, within what the setup runs."""
    numerics = precision.resolve(args.mixed_precision, cpu_bfloat16=models.get(args.model).cpu_bfloat16)
    if setup is not None and setup.mode == 'multi-worker' and numerics.name == 'bfloat16':
        # TensorFlow 2.21 has no bfloat16 kernel for the fused convolutions of a multi-worker CPU session.
        numerics = precision.Precision('float32', False, "--mixed-precision %s, but oneDNN's bfloat16 rewrite does "
                                       "not run in a multi-worker session on CPU" % args.mixed_precision)
    return numerics


def train(args, data, data_source, tutorial, setup=None):
    """Train, save and score one run (data: splits.training_data's); returns its folder, or None
    on a worker that is not the chief (only the chief writes the run)."""
    return Trainer(args, data, data_source, tutorial, setup).train()


@dataclasses.dataclass
class Network:
    """The training graph's tensors, filled in as build() makes them."""
    correct_label: typing.Any
    learning_rate: typing.Any
    input_image: typing.Any = None
    keep_prob: typing.Any = None
    is_training: typing.Any = None
    probabilities: typing.Any = None
    model_variables: typing.Any = None
    logits: typing.Any = None
    train_op: typing.Any = None
    loss: typing.Any = None
    tensors: typing.Any = None     # by their serving names, for save_model
    average: typing.Any = None     # averaging.WeightAverage of --ema


class Trainer:
    """run()'s steps after the data is read, in the order train() calls them."""

    def __init__(self, args, data, data_source, tutorial, setup=None):
        self.args, self.data, self.data_source, self.tutorial, self.setup = args, data, data_source, tutorial, setup
        self.image_shape = tuple(args.image_shape)
        self.writes = setup is None or setup.is_chief
        self.run_options = tf.RunOptions(timeout_in_ms=1000 * args.step_timeout) if setup is not None else None
        self.checkpointer = None
        self.numerics = None
        self.staging = self.run_dir = None

    @property
    def resume_command(self):
        return 'python main.py --resume %s' % self.staging

    def train(self):
        args, setup = self.args, self.setup
        make_batches = self.batch_function()
        self.numerics = run_precision(args, setup)
        print('Precision: %s (%s)' % (self.numerics.name, self.numerics.note))
        config = precision.session_config(self.numerics.rewrite, args.xla)
        target, config = (setup.target, setup.session_config(config)) if setup is not None else ('', config)
        self.open_folder()
        try:
            with tf.Graph().as_default(), tf.Session(target, config=config) as sess, \
                    setup.strategy.scope() if setup is not None else contextlib.nullcontext():
                tf.set_random_seed(args.seed)
                net = self.build(sess)
                state, hooks = self.prepare(sess, net)
                train_seconds, diverged = self.fit(sess, net, state, hooks, make_batches)
                if not self.writes:
                    print('Worker %d: training done (%.0f s); the chief, worker 0, writes the run'
                          % (setup.task_index, train_seconds), flush=True)
                    shutil.rmtree(self.staging, ignore_errors=True)
                    return None
                results = self.save(sess, net, state, hooks, train_seconds, diverged)
        except BaseException as e:
            if self.checkpointer is not None and self.checkpointer.saved and self.writes:
                if not isinstance(e, errors.Error):    # those say how to go on themselves
                    print('The run stopped (%s: %s); its checkpoints are kept in %s. Continue it with:\n    %s'
                          % (type(e).__name__, e, self.staging, self.resume_command), file=sys.stderr, flush=True)
            else:
                shutil.rmtree(self.staging, ignore_errors=True)
            raise
        os.replace(self.staging, self.run_dir)
        if len(self.data.val):
            print(scoring.format_table(results))
        print('Run saved to %s (model/, metrics.json, curves.png, checkpoints/, tensorboard/, painted samples)'
              % self.run_dir)
        if diverged:
            raise errors.RunError('training diverged: %s. To change: %s. Its last good checkpoint can be resumed: python '
                             'main.py --resume %s' % (diverged, loop.divergence_advice(args, self.numerics.name),
                                                      self.run_dir))
        return self.run_dir

    def batch_function(self):
        """make_batches(dataset): the tutorial's get_batches_fn over it, augmented and sharded as asked."""
        args, setup = self.args, self.setup
        augmentation = options.augmentation_from_args(args)
        if augmentation is not None:
            print('Augmenting the training pairs: %s' % ', '.join(
                '%s %s' % kv for kv in augmentation.settings().items()))
        if setup is not None:
            try:
                setup.check_batch_size(args.batch_size)    # the embedded sample may have set it
            except distribute.DistributeError as e:
                raise errors.RunError(str(e))
        if len(self.data.train.sources or ()) > 1:
            shares = args.mix or [size for _, size in self.data.train.sources]
            print('Each batch: %s' % ', '.join('%.0f%% %s' % (100.0 * share / sum(shares), name)
                                              for share, (name, _) in zip(shares, self.data.train.sources)))
        return lambda dataset: self.tutorial.gen_batch_function(
            None, self.image_shape, dataset=dataset, seed=args.seed, augment=augmentation,
            shard=setup.shard() if setup is not None else None, mix=args.mix)

    def open_folder(self):
        args, setup = self.args, self.setup
        if not self.writes:
            # Only the chief writes the run; the others keep what the trainer writes in a folder of their own.
            self.staging = self.run_dir = tempfile.mkdtemp(prefix='fcn8-worker%d-' % setup.task_index)
        else:
            self.staging, self.run_dir = run_folder.open_run_folder(args.runs_dir, args.resume)
        if not args.resume:
            saved_args = dict(args.as_dict(), data_dir=os.path.abspath(args.data_dir),
                              vgg_dir=os.path.abspath(args.vgg_dir), runs_dir=os.path.abspath(args.runs_dir))
            files.write_json_atomic(os.path.join(self.staging, run_folder.RUN_ARGS), saved_args)

    def build(self, sess):
        """The network, its loss and train_op, initialised (ImageNet weights copied in)."""
        args, setup, num_classes = self.args, self.setup, self.data.num_classes
        net = Network(
            correct_label=tf.placeholder(tf.float32, [None, None, None, num_classes], name='correct_label'),
            learning_rate=tf.placeholder(tf.float32, [], name='learning_rate'))
        if setup is None:
            net.input_image, net.keep_prob, net.is_training, last_layer, weights = network.build_network(
                sess, args, num_classes, self.tutorial)
            net.probabilities = network.network_probabilities(last_layer, args)
            net.model_variables = tf.global_variables()
            net.logits, net.train_op, net.loss = self.tutorial.optimize(
                last_layer, net.correct_label, net.learning_rate, num_classes, args.encoder_lr_scale,
                args.clip_norm, self.data.class_weights, network.image_labels_r(args), args.frozen_blocks,
                args.ohem, args.boundary_weight)
            if args.ema:
                net.average = averaging.WeightAverage(net.model_variables, args.ema)
                net.train_op = net.average.after(net.train_op)
            loop.initialize_new_variables(sess)
        else:
            (net.input_image, net.keep_prob, net.is_training, last_layer, net.model_variables, net.train_op,
             net.loss, weights) = network.build_replicated(args, num_classes, self.data.class_weights, setup,
                                                           net.correct_label, net.learning_rate,
                                                           self.tutorial.optimize)
            net.probabilities = network.network_probabilities(last_layer, args)
            net.logits = tf.reshape(last_layer, (-1, num_classes))
            try:    # multi-worker: the chief's initial values are broadcast to every worker
                sess.run(tf.global_variables_initializer(), options=self.run_options)
            except distribute.WORKER_LOST as e:
                raise errors.RunError(distribute.lost_worker_message(e, setup, args.step_timeout))
        if args.model != models.TUTORIAL_MODEL or setup is not None:
            print('Model %s: %s' % (args.model, models.get(args.model).summary))
        if weights is not None:
            encoders.transplant(sess, weights)
        if args.init_model:
            try:
                count = checkpoints.initialise_from_model(sess, args.init_model, net.model_variables)
            except checkpoints.CheckpointError as e:
                raise errors.ConfigError('--init-model %s' % e)
            print('Starting from %s: its %d variables' % (args.init_model, count))
        if net.average is not None:
            sess.run(net.average.start)     # from the weights as they start, not the initialisers'
            print('Averaging the weights (--ema %g): validation and the saved model use the average' % args.ema)
        net.tensors = {'image_input': net.input_image, 'keep_prob': net.keep_prob,
                       'probabilities': net.probabilities}
        return net

    def probabilities_at_own_size(self, sess, net, images):
        return scoring.tta_probabilities(sess, net.tensors, images, self.image_shape, [im.shape[:2] for im in images])

    def prepare(self, sess, net):
        """(training state, hooks): checkpoints (restored on --resume), best weights, validation, TensorBoard."""
        args, val_set, val_sets = self.args, self.data.val, self.data.val_sets
        checkpoint_dir = os.path.join(self.staging, 'checkpoints')
        self.checkpointer = checkpoints.Checkpointer(checkpoint_dir, tf.global_variables(), args.keep_checkpoints)
        best = checkpoints.BestWeights(checkpoint_dir, net.model_variables, args.keep_best) if args.keep_best else None
        state = checkpoints.TrainingState()
        if args.resume:
            prefix, state = checkpoints.latest_checkpoint(checkpoint_dir)
            self.checkpointer.restore(sess, prefix)
            print('Resuming %s from %s: %d epochs and %d steps done' % (
                self.staging, os.path.basename(prefix), state.epoch, state.step))
            shutil.rmtree(os.path.join(self.staging, 'model'), ignore_errors=True)   # written again at the end
        positive = self.data.train.positive
        palette = class_colours(positive, self.data.train.colours, self.data.num_classes)

        def evaluate_fn(sess):
            results = scoring.evaluate_sources(sess, net.tensors, val_sets, self.image_shape)
            images = [arrays.read_png(p) for p, _ in val_set.pairs[:curves.NUM_PAINTED]]
            probs = self.probabilities_at_own_size(sess, net, images)
            painted = [paint(im, metrics.classes_from_probabilities(p, positive), palette) for im, p in zip(images, probs)]
            return results, painted

        curve_metric = args.keep_best or ('road_iou' if positive is not None else 'mean_iou')
        self.events = curves.EventWriter(os.path.join(self.staging, curves.TENSORBOARD_DIR))
        hooks = loop.TrainingHooks(self.staging, self.checkpointer, checkpoints.StopOnSignal(), self.events,
                                   evaluate_fn, args.eval_every if self.writes else 0, best,
                                   args.checkpoint_every if self.writes else 0, curve_metric,
                                   args.checkpoint_minutes,
                                   args.keep_checkpoint, average=net.average)
        if self.writes and args.checkpoint_every:
            print('Checkpoints: %s each (the weights and the optimizer\'s state), after every %s%s, each '
                  'validation and the end; the newest %d kept%s (README: Resuming)' % (
                      files.megabytes(self.checkpointer.size),
                      'epoch' if args.checkpoint_every == 1 else '%d epochs' % args.checkpoint_every,
                      ' but at most one per %g minutes' % args.checkpoint_minutes
                      if args.checkpoint_minutes else '',
                      args.keep_checkpoints,
                      '' if args.keep_checkpoint else ', deleted when the run ends'))
        return state, hooks

    def fit(self, sess, net, state, hooks, make_batches):
        """train_nn over the rounds (one, or --supervision's relabelling rounds); (seconds, divergence or None).

        A signal, a lost worker or a bad file met by a loader thread ends the run with one line
        (and the command that resumes it); a divergence keeps the last good weights."""
        args, setup, train_set = self.args, self.setup, self.data.train
        base_rate = args.learning_rate if setup is None else setup.learning_rate(args.learning_rate, args.lr_scaling)
        rate = loop.learning_rate_schedule(
            base_rate, args.lr_schedule,
            args.epochs * make_batches(train_set).num_batches(args.batch_size),
            args.lr_power)
        start = time.time()
        diverged = None
        try:
            with hooks.stop:
                for last_epoch, get_batches_fn in weak_rounds.training_rounds(
                        args, state, train_set, self.data.boxes, self.staging, make_batches,
                        lambda images: self.probabilities_at_own_size(sess, net, images)):
                    self.tutorial.train_nn(
                        sess, last_epoch, args.batch_size, get_batches_fn, net.train_op, net.loss, net.input_image,
                        net.correct_label, net.keep_prob, net.learning_rate, args.keep_prob, rate, state=state,
                        hooks=hooks, extra_feed={net.is_training: True} if net.is_training is not None else None,
                        run_options=self.run_options)
        except distribute.WORKER_LOST as e:
            if setup is None:
                raise
            message = distribute.lost_worker_message(e, setup, args.step_timeout)
            if self.writes and self.checkpointer.saved:
                message += ('; the checkpoints so far are in %s, continue on one machine with:\n    %s '
                            '--distribute mirrored' % (self.staging, self.resume_command))
            raise errors.RunError(message)
        except files.DiskFull as e:
            raise errors.RunError(self.disk_full_message(e))
        except arrays.DataError as e:     # from a loader thread: the same one line as at start-up
            message = 'data error: %s' % e
            if self.writes and self.checkpointer.saved:
                message += '; the checkpoints so far are in %s: fix the file, then continue with:\n    %s' % (
                    self.staging, self.resume_command)
            raise errors.RunError(message)
        except loop.TrainingDiverged as e:
            diverged = str(e)
            print('ERROR: %s' % e, file=sys.stderr)
        except loop.TrainingInterrupted as e:
            if self.writes:
                try:
                    hooks.save(sess, e.state)
                except files.DiskFull as full:
                    raise errors.RunError(self.disk_full_message(full)) from None
                print('Interrupted (%s) at epoch %d after %d steps: the run so far is in %s. Continue it '
                      'with:\n    %s' % (e, e.state.epoch + 1, e.state.step, self.staging, self.resume_command),
                      flush=True)
            else:
                print('Worker %d interrupted (%s); the chief keeps the checkpoints' % (setup.task_index, e),
                      flush=True)
            raise errors.Stopped(str(e), getattr(signal, str(e), signal.SIGINT))
        finally:
            self.events.close()
        if setup is not None and setup.mode == 'multi-worker':   # equal on every worker, or a bug
            print('Worker %d: weights sha256 %s' % (setup.task_index,
                                                    distribute.weights_digest(sess, net.model_variables)))
        return time.time() - start, diverged

    def disk_full_message(self, error):
        """One line for a checkpoint or model that did not fit: what, where, and how to go on."""
        if self.checkpointer is not None and self.checkpointer.saved:
            return ('disk full: %s. Nothing was written; the previous checkpoint is kept in %s: free some space, '
                    'then continue with:\n    %s' % (error, self.staging, self.resume_command))
        return 'disk full: %s. No checkpoint was written yet, so the run is not kept: free some space and start it ' \
               'again' % error

    def save(self, sess, net, state, hooks, train_seconds, diverged):
        """The model (the best epoch's weights with --keep-best), metrics.json, curves and painted samples."""
        args, data = self.args, self.data
        best = hooks.best
        saved_epoch = state.best['epoch'] if best is not None and state.best and not diverged else state.epoch
        if saved_epoch != state.epoch:
            best.restore(sess, state)       # the average, with --ema: what was validated
            print('Keeping the weights of epoch %d (best %s %.4f)' % (saved_epoch, args.keep_best,
                                                                     state.best['value']))
        elif net.average is not None:
            sess.run(net.average.swap)      # the average in the weights' place, for good
        run_config = {'dataset': args.dataset, 'data_source': self.data_source, 'image_shape': list(self.image_shape),
                      'sources': [list(source) for source in data.train.sources or ()],
                      'num_classes': data.num_classes, 'class_names': list(data.train.class_names),
                      'positive_class': data.train.positive,
                      'colours': [list(c) for c in data.train.colours] if data.train.colours else None,
                      'model': args.model, 'decoder': args.decoder, 'args': args.as_dict()}
        export_dir = os.path.join(self.staging, 'model')
        try:
            files.check_free_space(self.staging, int(checkpoints.variables_bytes(net.model_variables)
                                                     * checkpoints.SPACE_MARGIN), 'the model')
        except files.DiskFull as e:
            raise errors.RunError(self.disk_full_message(e)) from None
        if self.setup is None:
            save_model(sess, export_dir, net.model_variables, net.tensors, run_config)
        else:
            network.save_single_device_model(sess, export_dir, args, data.num_classes, net.model_variables,
                                             run_config)
        if hooks.last_evaluation and hooks.last_evaluation[0] == saved_epoch:
            results = dict(hooks.last_evaluation[1])   # these very weights were just validated
        else:
            results = scoring.evaluate_sources(sess, net.tensors, data.val_sets, self.image_shape) \
                if len(data.val) else {}
        results.update({'dataset': data.val.name, 'train_images': len(data.train),
                        'epoch_mean_loss': state.history, 'diverged': diverged,
                        'train_seconds': round(train_seconds, 1), 'evaluations': state.evaluations,
                        'best': state.best, 'saved_epoch': saved_epoch,
                        'skipped_data': [dict(image=p[0], label=p[1], error=m) for p, m in data.bad]})
        files.write_json_atomic(os.path.join(self.staging, run_folder.METRICS), results)
        hooks.plot(state)
        if not args.keep_checkpoint:
            shutil.rmtree(os.path.join(self.staging, 'checkpoints'), ignore_errors=True)
        self.tutorial.save_inference_samples(args.runs_dir, args.data_dir, sess, self.image_shape, net.logits,
                                             net.keep_prob, net.input_image, image_paths=data.to_paint,
                                             colours=data.train.colours, output_dir=self.staging,
                                             probabilities=net.probabilities,    # what the saved model serves
                                             positive=data.train.positive)
        return results
