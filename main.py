"""FCN-8 road segmentation: VGG16 encoder, transposed-conv decoder, KITTI Road.

The tutorial's five functions, in order: load_vgg, layers, optimize, train_nn, run.
`python main.py --help` lists every setting; fcnroad/training/options.py says where the defaults
differ from the source's and which setting wins.
"""
from fcnroad import cli, console

console.quiet_tensorflow()   # before anything imports TensorFlow: its start-up lines unless --verbose

import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf2  # noqa: E402
from tqdm import tqdm  # noqa: E402

import helper  # noqa: E402
import project_tests as tests  # noqa: E402
from fcnroad import errors, models  # noqa: E402
from fcnroad.data import registry  # noqa: E402
from fcnroad.models import encoders, fcn, mil, vgg  # noqa: E402
from fcnroad.training import (boundary_pixels, checkpoints, distribute, hard_pixels, loop, options,  # noqa: E402
                              splits, trainer)
from fcnroad.training.options import DEFAULTS  # noqa: E402

tf = tf2.compat.v1
tf.disable_v2_behavior()

SAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'sample')
VGG_TAG = vgg.VGG_TAG    # the tutorial's vgg.zip tag, which vgg.py writes too


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
                      '`python -m fcnroad.cli.build_vgg --out %s`' % (vgg_path, e, vgg_path)) from None
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
             encoder_lr_scale=DEFAULTS['encoder_lr_scale'], clip_norm=DEFAULTS['clip_norm'], class_weights=None,
             image_labels_r=None, frozen_blocks=DEFAULTS['frozen_blocks'], ohem=DEFAULTS['ohem'],
             boundary_weight=DEFAULTS['boundary_weight']):
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
    :param image_labels_r: learn from image-level labels (--supervision image-labels): the loss sees only
        which classes each image holds, through Log-Sum-Exp pooling of this sharpness (models/mil.py)
    :param frozen_blocks: VGG16's first blocks that keep their ImageNet weights: no step and, below the
        lowest trained layer, no backward pass (tf.gradients builds none where no variable asks for it)
    :param ohem: hard-pixel mining: the mean over the pixels whose true class gets less than this
        probability (and at least the hardest hard_pixels.MIN_KEPT of them); 0 averages over every pixel
    :param boundary_weight: pixels within boundary_pixels.RADIUS of a class change in the label count
        1 + this in the loss; 0 counts them as any other
    :return: Tuple of (logits, train_op, cross_entropy_loss)
    """
    logits = tf.reshape(nn_last_layer, (-1, num_classes), name='logits')
    labels = tf.reshape(correct_label, (-1, num_classes))
    # Pixels the benchmark does not evaluate have an all-zero one-hot row.
    valid = tf.cast(tf.reduce_sum(labels, axis=1) > 0, tf.float32)
    if image_labels_r:      # one term per image, counted alike
        item_loss = mil.image_label_loss(nn_last_layer, correct_label, image_labels_r)
        valid = tf.ones_like(item_loss)
    else:
        item_loss = tf.nn.softmax_cross_entropy_with_logits(labels=tf.stop_gradient(labels), logits=logits)
        if class_weights is not None:
            item_loss *= tf.reduce_sum(labels * tf.constant(np.asarray(class_weights, np.float32)), axis=1)
        if boundary_weight:
            item_loss *= boundary_pixels.boundary_weights(correct_label, boundary_weight)
        if ohem:
            valid = hard_pixels.hard_pixel_mask(logits, labels, valid, ohem)
    # Under a tf.distribute strategy (--distribute) each replica holds a share of the batch;
    # with one replica (the tutorial's path) the reductions below are the identity.
    replica = tf2.distribute.get_replica_context()
    replicas = replica.num_replicas_in_sync
    valid_items = tf.reduce_sum(valid)
    if replicas > 1:    # the mean over the global batch's pixels (or images), not each share's
        valid_items, = distribute.all_sum([valid_items])
    cross_entropy = tf.divide(tf.reduce_sum(item_loss * valid), tf.maximum(valid_items, 1.0),
                              name='cross_entropy')
    # The L2 terms read the first replica's copy of the weights: counted there, once.
    regularization = tf.losses.get_regularization_loss()
    if replicas > 1 and distribute.replica_index() != 0:
        regularization = tf.constant(0.0)
    cross_entropy_loss = tf.add(cross_entropy, regularization, name='loss')

    variables = tf.trainable_variables()
    if frozen_blocks:
        frozen = encoders.vgg_block_variables(frozen_blocks, variables)
        if not frozen:
            raise ValueError('frozen_blocks=%d: the network has no VGG16 conv blocks' % frozen_blocks)
        variables = [v for v in variables if v not in frozen]
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
    :param hooks: loop.TrainingHooks called after every step and epoch (checkpoints, evaluation, curves, signals)
    :param extra_feed: more feeds for the training steps (batch norm's is_training)
    :param run_options: tf.RunOptions of each step (a distributed step's timeout)
    :return: list of each epoch's mean loss.  If the loss stops being finite, the
        weights of the last finished epoch are restored and loop.TrainingDiverged is raised;
        if the hooks ask to stop, loop.TrainingInterrupted is raised after the current step.
    """
    state = state or checkpoints.TrainingState()
    snapshot = loop.Snapshot(sess)
    snapshot.take()
    # helper's Batches keeps its data order's random state (so checkpoints keep it) and an epoch's length;
    # a plain function, as the tutorial's checks pass, has neither.
    rng = get_batches_fn.rng if isinstance(get_batches_fn, helper.Batches) else None
    if rng is not None:
        state.restore_rng(rng)       # a resumed run draws the same data order
    total = get_batches_fn.num_batches(batch_size) if isinstance(get_batches_fn, helper.Batches) else None
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
                raise loop.TrainingDiverged(
                    'loss is %s at epoch %d batch %d: training stopped, weights restored to the end of '
                    'epoch %d' % (loss, epoch, state.step + 1, epoch - 1))
            state.epoch_losses.append(float(loss))
            state.step += 1
            state.global_step += 1
            bar.set_postfix(loss='%.4f' % loss)
            if hooks is not None and hooks.after_step(sess, state, float(loss), rate):
                bar.close()
                raise loop.TrainingInterrupted(state, hooks.stop_reason)
        bar.close()
        state.history.append(float(np.mean(state.epoch_losses)))
        state.epoch, state.step, state.epoch_losses = epoch, 0, []
        if rng is not None:
            state.capture_rng(rng)   # a checkpoint at this epoch's end resumes with the next epoch's order
        print('Epoch {}/{}: mean loss {:.4f} ({:.0f} s)'.format(epoch, epochs, state.history[-1],
                                                              time.time() - start), flush=True)
        snapshot.take()
        if hooks is not None:
            hooks.after_epoch(sess, state, epochs)
    return state.history


# What the trainer builds, feeds and paints with: the four functions above and helper.py's.
TUTORIAL = trainer.Tutorial(load_vgg, layers, optimize, train_nn, helper.gen_batch_function,
                            helper.save_inference_samples)


def find_kitti(args):
    """Where this run's KITTI Road is: None when args.data_dir holds data_road/ (as it is, or downloaded now),
    else the embedded sample's folder, which options.resolve then trains on with its own settings."""
    if not registry.get(args.dataset).tutorial:
        return None
    data_road = os.path.join(args.data_dir, 'data_road')
    if os.path.isdir(data_road):
        return None
    if args.no_download:
        why = '--no-download'
    else:
        try:
            helper.maybe_download_kitti(args.data_dir, args.kitti_url)
            print('KITTI Road downloaded from %s into %s' % (args.kitti_url, data_road))
            return None
        except Exception as e:  # offline, refused, corrupt: all fall back to the sample
            why = 'download failed: %s' % e
    not_found = 'Kitti dataset not found. Extract Kitti dataset in %s (%s; the archive is %s)' % (
        data_road, why, args.kitti_url)
    if args.no_sample:
        raise errors.ConfigError(not_found)
    if not os.path.isdir(os.path.join(SAMPLE_DIR, 'data_road')):   # an installed copy: no sample/ beside it
        raise errors.ConfigError(not_found + '; the embedded sample ships with the repository, not with an '
                                 'installed copy')
    print('KITTI Road not found in %s (%s). For the real benchmark, download %s and extract it into %s.'
          % (data_road, why, args.kitti_url, os.path.dirname(data_road)))
    return SAMPLE_DIR


def data_source(args):
    """One line naming the data a run trains on, for its run_config.json."""
    if registry.get(args.dataset).tutorial:
        data_road = os.path.join(args.data_dir, 'data_road')
        sample = os.path.abspath(args.data_dir) == os.path.abspath(SAMPLE_DIR)
        where = 'embedded sample %s' if sample else 'KITTI Road from %s'
        source = where % data_road
    else:
        source = '%s from %s' % (args.dataset, args.data_dir)
    return source + ''.join(' + %s from %s' % tuple(added) for added in args.add_dataset or ())


def run(argv=None):
    """Train and score FCN-8s as the tutorial does, on KITTI Road (or the embedded sample, or --dataset)."""
    with cli.errors_as_exit():    # the package's errors end the command with their one line
        logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
        args, _ = options.resolve(sys.argv[1:] if argv is None else argv, find_data=find_kitti)
        setup = trainer.start_distribution(args)    # before TensorFlow's devices start

        # The VGG16 first: whatever the data, a newcomer ends up with a working SavedModel (--vgg-dir).
        helper.maybe_download_pretrained_vgg(args.data_dir, vgg_path=args.vgg_dir, weights_h5=args.vgg_weights_h5,
                                            fc_depth=args.fc_depth)

        if not args.skip_checks:
            print("The tutorial's checks of load_vgg, layers, optimize, train_nn and the data (project_tests.py; "
                  "--skip-checks skips them):")
            tests.test_load_vgg(load_vgg, tf)
            tests.test_layers(layers)
            tests.test_optimize(optimize)
            tests.test_train_nn(train_nn)
            if registry.get(args.dataset).tutorial:
                try:
                    with warnings.catch_warnings(record=True) as said:
                        warnings.simplefilter('always')
                        tests.test_for_kitti_dataset(args.data_dir)
                except AssertionError as e:
                    raise errors.DataError(str(e)) from None
                for warning in said:
                    print('WARNING: %s' % warning.message, file=sys.stderr, flush=True)

        data = splits.training_data(args, args.data_dir, tuple(args.image_shape))
        # Build the network with load_vgg and layers, optimize, train_nn; save the model, score it, paint samples.
        return trainer.train(args, data, data_source(args), TUTORIAL, setup)


if __name__ == '__main__':
    run()
