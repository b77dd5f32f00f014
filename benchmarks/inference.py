"""Inference benchmark: one saved model in every runtime it exports to, side by side.

    python -m benchmarks.inference --model runs/<run>/model [--images DIR] [--video FILE]

Exports the model to ONNX, TFLite and calibrated full-integer TFLite int8 (the network at its
training size, the resizing in float around it; in a temporary folder), then
for each runtime prints the images/s and the latency p50 / p95 of one image (uint8 in, class
map and probabilities out at the image's size: the serving signature's whole path), how many
pixels of its class map equal TensorFlow's, and (on the run's validation images, the
default) its IoU against the labels: road IoU for a road model, mean IoU for several
classes.  With --video it also times predict.py end to end on that video with each
runtime's model (reading, inference, painting, writing the mp4).  Nothing else should run
meanwhile.
"""
import os
import sys

if __package__ in (None, ''):   # run by path (python benchmarks/x.py): the project's root, not benchmarks/, first
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fcnroad import cli, console  # noqa: E402

console.quiet_tensorflow()   # before anything imports TensorFlow: its start-up lines unless --verbose

import glob  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf2  # noqa: E402

from fcnroad.data import arrays, datasets  # noqa: E402
from fcnroad.evaluation import metrics  # noqa: E402
from fcnroad.serving import export  # noqa: E402
from fcnroad.serving import runtimes  # noqa: E402

tf = tf2.compat.v1
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def latencies(fn, images, repeats):
    """Seconds of each call of fn on each image (after one warm-up call per image size)."""
    for shape in {im.shape for im in images}:
        fn(next(im for im in images if im.shape == shape)[None])
    times = []
    for _ in range(repeats):
        for image in images:
            start = time.perf_counter()
            fn(image[None])
            times.append(time.perf_counter() - start)
    return np.array(times)


def build_parser():
    p = console.Parser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', required=True, type=console.Path('folder'), help='runs/<run>/model folder written by main.py')
    p.add_argument('--images', type=console.Path('folder'), help='a folder of test images (default: the run\'s validation images, 20 at most)')
    p.add_argument('--count', type=console.Range(int, 1), default=20, help='images to time')
    p.add_argument('--repeats', type=console.Range(int, 1), default=3)
    p.add_argument('--video', type=console.Path('file'), help='also time predict.py end to end on this video')
    return p


def main_(argv=None):
    with cli.errors_as_exit():
        args = build_parser().parse_args(argv)
    tf.disable_v2_behavior()
    labels, num_classes, road = None, None, False
    if args.images:
        paths = datasets.list_images(args.images)[:args.count]
    else:
        import json
        with open(os.path.join(args.model, 'run_config.json')) as f:
            config = json.load(f)
        run_args = config['args']
        _, val = datasets.load(config['dataset'], run_args['data_dir'], run_args.get('val_fraction', 0.0),
                               holdout_sequence=run_args.get('holdout_sequence'))
        pairs = [pair for pair in val.pairs if pair[1] is not None][:args.count]
        paths = [image for image, _ in pairs]
        labels, num_classes = [val.read_label(label) for _, label in pairs], config['num_classes']
        road = val.positive is not None
    images = [arrays.read_png(path) for path in paths]
    sizes = sorted({'%dx%d' % im.shape[1::-1] for im in images})
    print('%s, %s, %d cores; %s; %d images (%s), batch 1, %d repeats' % (
        platform.node(), platform.processor() or platform.machine(), os.cpu_count(), args.model, len(images),
        ', '.join(sizes), args.repeats))
    folder = tempfile.mkdtemp(prefix='fcn8-inference-')
    try:
        # (row, model path): each runs through runtimes.open_predictor, as predict.py --model PATH does
        rows = [('TensorFlow (float32)', args.model),
                ('ONNX Runtime (float32)', export.export_onnx(args.model, os.path.join(folder, 'model.onnx'))),
                ('TFLite (float32)', export.export_tflite(args.model, os.path.join(folder, 'model.tflite'))),
                ('TFLite int8 (calibrated)', export.export_tflite(args.model, os.path.join(folder, 'int8.tflite'),
                                                                  int8=True))]
        score_name = ('road IoU' if road else 'mean IoU') if labels else None
        print('| runtime | images/s | latency p50 (ms) | p95 (ms) | class map = TensorFlow\'s |%s file (MB) |'
              % (' %s |' % score_name if score_name else ''))
        print('|---|---|---|---|---|---|%s' % ('---|' if score_name else ''))
        reference = None
        for name, path in rows:
            predictor = runtimes.open_predictor(path)
            try:
                run = lambda batch: predictor(batch)[0]     # noqa: E731
                times = latencies(run, images, args.repeats)
                maps = [run(im[None])[0] for im in images]
            finally:
                predictor.close()
            reference = reference or maps
            agree = np.mean([(a == b).mean() for a, b in zip(maps, reference)])
            size = (os.path.getsize(path) if os.path.isfile(path) else
                    sum(os.path.getsize(f) for f in glob.glob(os.path.join(path, 'variables', '*')))) / 1e6
            score = ''
            if score_name:
                cm = sum(metrics.confusion_matrix(label, m, num_classes) for label, m in zip(labels, maps))
                score = ' %.4f |' % (metrics.binary_scores(cm)['iou'] if road else
                                     metrics.scores_from_confusion(cm)['mean_iou'])
            print('| %s | %.2f | %.1f | %.1f | %.2f%% |%s %.1f |' % (
                name, len(times) / times.sum(), 1000 * np.percentile(times, 50), 1000 * np.percentile(times, 95),
                100 * agree, score, size), flush=True)
        if args.video:
            import imageio.v2 as imageio
            frames = imageio.get_reader(args.video, format='FFMPEG').count_frames()
            for name, path in rows:
                out = os.path.join(folder, 'painted')
                start = time.perf_counter()
                subprocess.run([sys.executable, os.path.join(ROOT, 'predict.py'), '--model', path, args.video,
                                '--out', out], check=True, capture_output=True)
                seconds = time.perf_counter() - start
                shutil.rmtree(out)
                print('predict.py --model <%s> %s: %d frames in %.1f s: %.2f frames/s end to end (process start '
                      'and model loading included)' % (name, os.path.basename(args.video), frames, seconds,
                                                        frames / seconds), flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == '__main__':
    main_()
