"""Which size the network should see a frame at: the rules compared on the same frames.

    python -m benchmarks.input_size --model fcnroad/pretrained/road --kitti-dir ../shared/data/kitti_road_train --camvid-dir ../shared/data

Rules (H x W: the training size; every side a multiple of 32):
- stretch: H x W whatever the frame's shape (what the serving path did before it kept the aspect ratio);
- height: the training height, the width that keeps the frame's aspect ratio (arrays.network_shape, the rule
  every path uses);
- area: the training size's pixel count at the frame's aspect ratio;
- native: the frame's own size;
- height N: the frame's aspect ratio at height N (--heights).
For each frame set and rule it prints the road IoU at the 0.5 decision, MaxF, AP and the best threshold.
"""
import os
import sys

if __package__ in (None, ''):   # run by path (python benchmarks/x.py): the project's root, not benchmarks/, first
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fcnroad import cli, console  # noqa: E402

console.quiet_tensorflow()   # before anything imports TensorFlow: its start-up lines unless --verbose

import numpy as np  # noqa: E402

from benchmarks.anchor import add_frame_options, frame_sets  # noqa: E402
from fcnroad import cpu  # noqa: E402
from fcnroad.data import arrays  # noqa: E402
from fcnroad.evaluation import scoring  # noqa: E402
from fcnroad.serving import saved_model  # noqa: E402


def multiple(side):
    return max(arrays.NETWORK_MULTIPLE, int(side / arrays.NETWORK_MULTIPLE + 0.5) * arrays.NETWORK_MULTIPLE)


def rule_shapes(image_shape, trained, heights=()):
    """{rule name: the network's (height, width) for a frame of image_shape}."""
    h, w = image_shape[:2]
    scale = (trained[0] * trained[1] / float(h * w)) ** 0.5
    rules = {'stretch': tuple(trained), 'height': arrays.network_shape(image_shape, trained),
             'area': (multiple(h * scale), multiple(w * scale)), 'native': (multiple(h), multiple(w))}
    rules.update({'height %d' % n: arrays.network_shape(image_shape, (n, None)) for n in heights})
    return rules


def build_parser():
    p = console.Parser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', type=console.Path('folder'), default=saved_model.SHIPPED_MODEL)
    add_frame_options(p)
    p.add_argument('--heights', type=console.Range(int, 32, multiple=32), nargs='*', default=[], metavar='N')
    console.add_verbose_flag(p)
    return p


def main(argv=None):
    with cli.errors_as_exit():
        args = build_parser().parse_args(argv)
        sets = frame_sets(args)
        import tensorflow.compat.v1 as tf
        tf.disable_v2_behavior()
        print(cpu.describe())
        print('| frames | rule | network input | road IoU | MaxF | AP | best threshold |')
        print('|---|---|---|---|---|---|---|')
        rows = []
        with tf.Graph().as_default(), tf.Session() as sess:
            tensors, run_config = saved_model.load_model(sess, args.model)
            trained = tuple(run_config['image_shape'])
            for set_name, dataset in sets:
                for rule in rule_shapes((1, 1), trained, args.heights):
                    seen = set()

                    def probabilities(images, shapes):
                        out = []
                        for image, shape in zip(images, shapes):
                            size = rule_shapes(image.shape, trained, args.heights)[rule]
                            seen.add('%dx%d' % size)
                            batch = arrays.resize_image(image, size)[None].astype(np.float32)
                            out.append(arrays.resize_probabilities(scoring.predict(sess, tensors, batch)[0], shape))
                        return out
                    r = scoring.score_probabilities(probabilities, dataset)
                    rows.append((set_name, rule, r))
                    print('| %s (%d) | %s | %s | %.4f | %.2f | %.2f | %.3f |' % (
                        set_name, len(dataset), rule, ', '.join(sorted(seen)), r['road']['iou'],
                        100 * r['kitti']['MaxF'], 100 * r['kitti']['AP'], r['kitti']['threshold']), flush=True)
        return rows


if __name__ == '__main__':
    main()
