"""FCN-8s's training step through the tutorial's functions, for each VGG16 SavedModel and frozen depth.

    python -m fcnroad.cli.build_vgg --out data/vgg-fc1024 --fc-depth 1024
    python -m benchmarks.levers --vgg-dirs data/vgg data/vgg-fc1024 --frozen-blocks 0 3 --image-shape 256 832

For every pair of --vgg-dirs (fc6/fc7's width is the SavedModel's) and --frozen-blocks it builds
load_vgg + layers + optimize on random images and prints the parameters that train, the
forward GFLOP and the median seconds of a training step (batch --batch-size, float32).
Quality is measured by main.py runs (BENCHMARKS.md), not here.
"""
import argparse
import os
import sys

if __package__ in (None, ''):   # run by path (python benchmarks/x.py): the project's root, not benchmarks/, first
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fcnroad import cli, console  # noqa: E402

console.quiet_tensorflow()   # before anything imports TensorFlow: its start-up lines unless --verbose

import platform  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks import models as family_costs  # noqa: E402
from benchmarks.speed import seconds_per_call  # noqa: E402
import main  # noqa: E402
from fcnroad import models  # noqa: E402
from fcnroad.models import vgg, vgg_saved_model  # noqa: E402
from fcnroad.training import loop, options  # noqa: E402

tf = main.tf


def measure(vgg_dir, frozen_blocks, args):
    h, w = args.image_shape
    rng = np.random.RandomState(0)
    batch = rng.uniform(0, 255, (args.batch_size, h, w, 3)).astype(np.float32)
    labels = np.eye(2, dtype=np.float32)[rng.randint(0, 2, (args.batch_size, h, w))]
    with tf.Graph().as_default() as graph, tf.Session() as sess:
        image_input, keep_prob, layer3, layer4, layer7 = main.load_vgg(sess, vgg_dir)
        last = main.layers(layer3, layer4, layer7, 2)
        label = tf.placeholder(tf.float32, [None, None, None, 2])
        _, train_op, _ = main.optimize(last, label, tf.constant(1e-4), 2, frozen_blocks=frozen_blocks)
        params = sum(int(np.prod(v.shape.as_list())) for v in trained_variables(graph))
        loop.initialize_new_variables(sess)
        fc_depth = graph.get_tensor_by_name('layer7_out:0').shape.as_list()[-1]
        step = seconds_per_call(lambda: sess.run(train_op, {image_input: batch, label: labels, keep_prob: 0.5}),
                                args.steps, warmup=2)
    return {'fc_depth': fc_depth, 'params': params, 'gflop': gflop(vgg_dir, args), 'step_s': step}


def trained_variables(graph):
    """The variables Adam keeps moments for (train/<variable>/Adam): the ones that train."""
    variables = {v.op.name: v for v in graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)}
    owners = [name[len('train/'):-len('/Adam')] for name in variables
              if name.startswith('train/') and name.endswith('/Adam')]
    return [variables[owner] for owner in owners if owner in variables]


def gflop(vgg_dir, args):
    """GFLOP of one forward pass at --image-shape: benchmarks.models' count of the same network built in
    the graph (the profiler needs static shapes, which the imported graph lacks)."""
    weights = models.pretrained_weights('vgg16', vgg_dir=vgg_dir)
    # fc6/fc7 of the SavedModel's width (models.build takes it from them), as stand-ins: they start fresh.
    fc = vgg.fc_shapes(weights['conv5_3'][0].shape[-1], vgg_saved_model.fc_depth(vgg_dir))
    weights.update(vgg_saved_model.stand_ins(fc))
    return family_costs.gflop('fcn8s', argparse.Namespace(image_shape=args.image_shape, num_classes=2), weights)


def build_parser():
    p = console.Parser(description=__doc__.split('\n\n')[0])
    p.add_argument('--vgg-dirs', nargs='+', type=console.Path('folder'), default=[options.DEFAULTS['vgg_dir']])
    p.add_argument('--frozen-blocks', nargs='+', type=console.Range(int, 0, 5), default=[0, 3])
    p.add_argument('--image-shape', type=console.Range(int, 32, multiple=32), nargs=2, default=(256, 832),
                   metavar=('H', 'W'))
    p.add_argument('--batch-size', type=console.Range(int, 1), default=4)
    p.add_argument('--steps', type=console.Range(int, 1), default=5)
    return p


def main_(argv=None):
    with cli.errors_as_exit():
        args = build_parser().parse_args(argv)
    print('%s, %s, %d cores; FCN-8s %dx%d, batch %d, float32' % (
        platform.node(), platform.processor() or platform.machine(), os.cpu_count(), *args.image_shape,
        args.batch_size))
    print('| VGG16 SavedModel | fc6/fc7 width | frozen blocks | trained parameters (M) | GFLOP/image (forward) | '
          'train s/step | images/s |')
    print('|---|---|---|---|---|---|---|')
    for vgg_dir in args.vgg_dirs:
        for frozen in args.frozen_blocks:
            r = measure(vgg_dir, frozen, args)
            print('| %s | %d | %d | %.1f | %.1f | %.2f | %.2f |' % (
                vgg_dir, r['fc_depth'], frozen, r['params'] / 1e6, r['gflop'], r['step_s'],
                args.batch_size / r['step_s']), flush=True)


if __name__ == '__main__':
    main_()
