"""FCN-8 road segmentation: VGG16 encoder, transposed-conv decoder, KITTI Road.

The tutorial's five functions, in order: load_vgg, layers, optimize, train_nn, run.
`python main.py --help` lists every setting; fcnroad/training/options.py says where the defaults
differ from the source's and which setting wins.
"""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import contextlib  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf2  # noqa: E402
from tqdm import tqdm  # noqa: E402

import helper  # noqa: E402
import project_tests as tests  # noqa: E402
from fcnroad import files, models  # noqa: E402
from fcnroad.data import datasets  # noqa: E402
from fcnroad.evaluation import metrics, scoring  # noqa: E402
from fcnroad.models import encoders, fcn, vgg  # noqa: E402
from fcnroad.serving.saved_model import save_model  # noqa: E402
from fcnroad.training import (checkpoints, curves, distribute, loop, options, precision, run_folder,  # noqa: E402
                              splits, weak_rounds)
from fcnroad.training.options import DEFAULTS, model_name  # noqa: E402

tf = tf2.compat.v1
tf2.get_logger().setLevel(logging.ERROR)  # its deprecation notices drown the training log
tf.disable_v2_behavior()

SAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'sample')
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
                      '`python -m fcnroad.models.build_vgg --out %s`' % (vgg_path, e, vgg_path)) from None
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
        print('Epoch {}/{}: mean loss {:.4f} ({:.0f} s)'.format(epoch, epochs, state.history[-1],
                                                              time.time() - start), flush=True)
        snapshot.take()
        if hooks is not None:
            hooks.after_epoch(sess, state, epochs)
    return state.history


def build_network(sess, args, num_classes, from_models=False):
    """(image_input, keep_prob, is_training or None, class scores, pretrained weights still to copy or None).

    fcn8s is built the tutorial's way: load_vgg's frozen VGG16, then layers().  The other
    families (and fcn8s with from_models) build their encoder in the graph (models/) from the
    same ImageNet weights, which transplant() copies in once the variables are initialised.
    """
    name = model_name(args)
    if name == models.TUTORIAL_MODEL and not from_models:
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


def find_kitti(args, explicit):
    """Make sure args.data_dir holds data_road/: as it is, downloaded, or the embedded sample.

    Falling back to the sample switches args.data_dir and applies options.SAMPLE_DEFAULTS
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
    if not os.path.isdir(os.path.join(SAMPLE_DIR, 'data_road')):   # an installed copy: no sample/ beside it
        raise SystemExit('Kitti dataset not found. Extract Kitti dataset in %s (%s; the archive is %s); the '
                         'embedded sample ships with the repository, not with an installed copy'
                         % (data_road, why, args.kitti_url))
    settings = options.apply_defaults(args, options.SAMPLE_DEFAULTS, explicit)
    args.data_dir = SAMPLE_DIR
    print('KITTI Road not found in %s (%s). Training on the embedded sample in %s instead, with its '
          'settings: %s. For the real benchmark, download %s and extract it into %s.'
          % (data_road, why, SAMPLE_DIR, options.as_flags(settings) or '(all given as flags)', args.kitti_url,
             os.path.dirname(data_road)))
    return 'embedded sample %s' % os.path.join(SAMPLE_DIR, 'data_road')


def run(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    args, explicit = options.resolve(argv)
    setup = None
    if getattr(args, 'distribute', 'none') != 'none':   # before TensorFlow's devices start (--logical-cpus)
        try:
            config = precision.session_config(precision.resolve(args.mixed_precision).rewrite, args.xla)
            setup = distribute.setup(args.distribute, config, args.logical_cpus)
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

    data = splits.training_data(args, data_dir, image_shape)
    train_set, val_set, boxes, num_classes = data.train, data.val, data.boxes, data.num_classes
    augmentation = options.augmentation_from_args(args)
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
        staging, run_dir = run_folder.open_run_folder(args.runs_dir, args.resume)
    if not args.resume:
        saved_args = dict(vars(args), data_dir=os.path.abspath(data_dir), vgg_dir=os.path.abspath(args.vgg_dir),
                          runs_dir=os.path.abspath(runs_dir))
        files.write_json_atomic(os.path.join(staging, run_folder.RUN_ARGS), saved_args)
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
                                                                data.class_weights)
                loop.initialize_new_variables(sess)
            else:
                (input_image, keep_prob, is_training, nn_last_layer, model_variables, train_op, cross_entropy_loss,
                 weights) = build_replicated(args, num_classes, data.class_weights, setup, correct_label,
                                             learning_rate)
                probabilities = tf.nn.softmax(nn_last_layer, name='probabilities')
                logits = tf.reshape(nn_last_layer, (-1, num_classes))
                try:    # multi-worker: the chief's initial values are broadcast to every worker
                    sess.run(tf.global_variables_initializer(), options=run_options)
                except distribute.WORKER_LOST as e:
                    raise SystemExit(distribute.lost_worker_message(e, setup, args.step_timeout))
            if model_name(args) != models.TUTORIAL_MODEL or setup is not None:
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
                return scoring.tta_probabilities(sess, tensors, images, image_shape, [im.shape[:2] for im in images])

            def evaluate_fn(sess):
                results = scoring.evaluate(sess, tensors, val_set, image_shape)
                images = [datasets.read_png(p) for p, _ in val_set.pairs[:curves.NUM_PAINTED]]
                probs = probabilities_at_own_size(images)
                painted = [helper.paint(im, metrics.classes_from_probabilities(p), palette)
                           for im, p in zip(images, probs)]
                return results, painted

            curve_metric = args.keep_best or ('road_iou' if num_classes == 2 else 'mean_iou')
            events = curves.EventWriter(os.path.join(staging, curves.TENSORBOARD_DIR))
            stop = checkpoints.StopOnSignal()
            hooks = loop.TrainingHooks(staging, checkpointer, stop, events, evaluate_fn,
                                       args.eval_every if writes else 0, best,
                                       args.checkpoint_every if writes else 0, curve_metric)
            base_rate = args.learning_rate if setup is None else setup.learning_rate(args.learning_rate,
                                                                                     args.lr_scaling)
            rate = loop.learning_rate_schedule(
                base_rate, getattr(args, 'lr_schedule', 'constant'),   # runs saved before it: constant
                args.epochs * make_batches(train_set).num_batches(args.batch_size),
                getattr(args, 'lr_power', DEFAULTS['lr_power']))
            start = time.time()
            diverged = None
            try:
                with stop:
                    for last_epoch, get_batches_fn in weak_rounds.training_rounds(
                            args, state, train_set, boxes, staging, make_batches, probabilities_at_own_size):
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
            except loop.TrainingDiverged as e:
                diverged = str(e)
                print('ERROR: %s' % e, file=sys.stderr)
            except loop.TrainingInterrupted as e:
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
                results = scoring.evaluate(sess, tensors, val_set, image_shape) if len(val_set) else {}
            results.update({'dataset': val_set.name, 'train_images': len(train_set),
                            'epoch_mean_loss': state.history, 'diverged': diverged,
                            'train_seconds': round(train_seconds, 1), 'evaluations': state.evaluations,
                            'best': state.best, 'saved_epoch': saved_epoch,
                            'skipped_data': [dict(image=p[0], label=p[1], error=m) for p, m in data.bad]})
            files.write_json_atomic(os.path.join(staging, run_folder.METRICS), results)
            hooks.plot(state)
            helper.save_inference_samples(runs_dir, data_dir, sess, image_shape, logits, keep_prob,
                                          input_image, image_paths=data.to_paint,
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
        print(scoring.format_table(results))
    print('Run saved to %s (model/, metrics.json, curves.png, checkpoints/, tensorboard/, painted samples)'
          % run_dir)
    if diverged:
        raise SystemExit('training diverged: %s. To change: %s. Its last good checkpoint can be resumed: python '
                         'main.py --resume %s' % (diverged, loop.divergence_advice(args, numerics.name), run_dir))
    return run_dir


if __name__ == '__main__':
    run()
