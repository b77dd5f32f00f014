"""The anchor beside ours: Intel's road-segmentation-adas-0001 and this project's models on the same frames.

    python -m benchmarks.anchor --kitti-dir ../shared/data/kitti_road_train --camvid-dir ../shared/data
    python -m benchmarks.anchor ... --models fcnroad/pretrained/road runs/<run>/model exports/road.onnx

For each frame set (KITTI Road's validation block, CamVid's val split as road / not road) it
prints, per model: road IoU, precision and recall at the model's own decision, the KITTI devkit's
MaxF and AP, and images/s of the whole path (a uint8 frame in, its probabilities out at the
frame's size, batch 1; reading the files not counted).

The anchor (Open Model Zoo, Apache-2.0; an OpenVINO IR, read by the `openvino` package, an extra:
pip install "fcnroad[openvino]") takes BGR 0..255 at 512x896, where Intel's demo stretches every
frame (its best input here too); it answers four classes, and road as KITTI and CamVid mark it is
its road + lane mark: its decision is road where one of those two is the most probable class, its
road probability their sum.  Without the anchor's files (--anchor-dir) it says so and scores ours.
"""
import os
import sys

if __package__ in (None, ''):   # run by path (python benchmarks/x.py): the project's root, not benchmarks/, first
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fcnroad import cli, console  # noqa: E402

console.quiet_tensorflow()   # before anything imports TensorFlow: its start-up lines unless --verbose

import time  # noqa: E402

import numpy as np  # noqa: E402

from fcnroad import cpu, errors  # noqa: E402
from fcnroad.data import arrays, datasets, registry  # noqa: E402
from fcnroad.evaluation import scoring  # noqa: E402
from fcnroad.serving import runtimes, saved_model  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANCHOR_NAME = 'road-segmentation-adas-0001'
DEFAULT_ANCHOR_DIR = os.path.join(ROOT, '..', 'shared', 'anchors', ANCHOR_NAME)
ANCHOR_INPUT = (512, 896)       # the IR's own input, which Intel's demo stretches every frame to
ANCHOR_ROAD_CLASSES = (1, 3)    # background, road, curb, lane mark: road as KITTI and CamVid mark it


class AnchorPredictor:
    """Intel's road-segmentation-adas-0001 in OpenVINO: uint8 RGB images in, (classes, probabilities of not road
    and road) out at their own size, as this project's predictors answer."""

    def __init__(self, folder, input_shape=ANCHOR_INPUT, threads=None):
        xml = os.path.join(folder, ANCHOR_NAME + '.xml')
        if not os.path.isfile(xml) or not os.path.isfile(xml[:-4] + '.bin'):
            raise errors.ModelError('%s: no %s.xml and .bin (the anchor\'s OpenVINO IR)' % (folder, ANCHOR_NAME))
        try:
            import openvino as ov
        except ImportError:
            raise errors.ModelError('the anchor runs in OpenVINO: pip install "fcnroad[openvino]"') from None
        core = ov.Core()
        model = core.read_model(xml)
        model.reshape({model.inputs[0].get_any_name(): [1, 3, input_shape[0], input_shape[1]]})
        config = {'INFERENCE_NUM_THREADS': threads or os.cpu_count()}
        self.compiled = core.compile_model(model, 'CPU', config)
        self.request = self.compiled.create_infer_request()
        self.input_shape = tuple(input_shape)
        self.run_config = {'model': ANCHOR_NAME, 'image_shape': list(input_shape)}

    def __call__(self, images):
        probabilities = []
        for image in images:
            bgr = arrays.resize_image(image, self.input_shape)[..., ::-1].transpose(2, 0, 1)[None].astype(np.float32)
            four = self.request.infer({0: bgr})[self.compiled.outputs[0]][0].transpose(1, 2, 0)
            probabilities.append(arrays.resize_probabilities(np.ascontiguousarray(four), image.shape[:2]))
        probabilities = np.stack(probabilities)
        road = probabilities[..., list(ANCHOR_ROAD_CLASSES)].sum(-1)
        classes = np.isin(probabilities.argmax(-1), ANCHOR_ROAD_CLASSES).astype(np.uint8)
        return classes, np.stack([1 - road, road], -1)

    def close(self):
        pass


class Timed:
    """A predictor whose calls are timed (seconds and images so far), answering (probabilities, its own classes)
    for scoring.score_probabilities(decided=True)."""

    def __init__(self, predictor):
        self.predictor, self.seconds, self.images = predictor, 0.0, 0

    def probabilities(self, images, shapes):
        out = []
        for image, shape in zip(images, shapes):
            start = time.perf_counter()
            classes, probs = self.predictor(image[None])
            self.seconds += time.perf_counter() - start
            self.images += 1
            if probs.shape[1:3] != tuple(shape):     # a label of another size than its image
                probs, classes = arrays.resize_probabilities(probs[0], shape)[None], arrays.resize_label(classes[0], shape)[None]
            out.append((probs[0], classes[0]))
        return out


def add_frame_options(parser):
    """--kitti-dir, --camvid-dir, --camvid-split: the frames to score on (frame_sets), for the benchmarks that share them."""
    parser.add_argument('--kitti-dir', type=console.Path('folder'), help='holds data_road/ (its val_images.txt block '
                                                                         'is scored)')
    parser.add_argument('--camvid-dir', type=console.Path('folder'), help='holds camvid/')
    parser.add_argument('--camvid-split', choices=('val', 'test'), default='val')


def frame_sets(args):
    """[(name, road dataset)]: KITTI's validation block, CamVid's val split as road / not road (those given)."""
    sets = []
    if args.kitti_dir:
        block = registry.load('kitti', args.kitti_dir)[1]
        if not len(block):
            raise errors.DataError('%s: no %s names the validation block to score on' % (
                os.path.join(args.kitti_dir, 'data_road'), datasets.VAL_LIST))
        sets.append(('KITTI validation block', block))
    if args.camvid_dir:
        sets.append(('CamVid %s' % args.camvid_split, registry.load('camvid_road', args.camvid_dir)[1]
                     if args.camvid_split == 'val' else registry.load_test('camvid_road', args.camvid_dir)))
    if not sets:
        raise errors.ConfigError('give --kitti-dir, --camvid-dir or both: the frames to score on')
    return sets


def score(predictor, dataset):
    """The predictor's scores on a road dataset, its classes counted as it decides them, and its images/s."""
    timed = Timed(predictor)
    results = scoring.score_probabilities(timed.probabilities, dataset, decided=True)
    results['images_per_second'] = timed.images / timed.seconds if timed.seconds else float('nan')
    return results


def build_parser():
    p = console.Parser(description=__doc__.split('\n\n')[0])
    p.add_argument('--models', nargs='+', type=console.Path(), default=[saved_model.SHIPPED_MODEL], metavar='MODEL',
                   help="this project's models: SavedModel folders or their exports (default: the shipped model)")
    p.add_argument('--anchor-dir', default=DEFAULT_ANCHOR_DIR, help="the anchor's IR (%s.xml and .bin)" % ANCHOR_NAME)
    add_frame_options(p)
    console.add_verbose_flag(p)
    return p


def main(argv=None):
    with cli.errors_as_exit():
        args = build_parser().parse_args(argv)
        sets = frame_sets(args)
        rows = []
        try:
            rows.append(('%s (OpenVINO, %dx%d)' % ((ANCHOR_NAME,) + ANCHOR_INPUT), AnchorPredictor(args.anchor_dir)))
        except errors.ModelError as e:
            print('The anchor is skipped: %s' % e)
        for model in args.models:
            predictor = runtimes.open_predictor(model)
            rows.append(('%s (%s, %s)' % (os.path.relpath(model), predictor.run_config.get('model'),
                                          runtimes.runtime_of(model)), predictor))
        print(cpu.describe())
        print('| model | frames | road IoU | precision | recall | MaxF | AP | images/s |')
        print('|---|---|---|---|---|---|---|---|')
        table = []
        for set_name, dataset in sets:
            for name, predictor in rows:
                r = score(predictor, dataset)
                table.append((name, set_name, r))
                print('| %s | %s (%d) | %.4f | %.4f | %.4f | %.2f | %.2f | %.1f |' % (
                    name, set_name, len(dataset), r['road']['iou'], r['road']['precision'], r['road']['recall'],
                    100 * r['kitti']['MaxF'], 100 * r['kitti']['AP'], r['images_per_second']), flush=True)
        for _, predictor in rows:
            predictor.close()
        return table


if __name__ == '__main__':
    main()
