"""Inference benchmark: one saved model in every runtime it exports to, side by side, and the anchor's rate.

    python -m benchmarks.inference --model runs/<run>/model [--images DIR] [--video FILE]

Exports the model to ONNX, TFLite, calibrated full-integer TFLite int8, and (with the openvino
extra) OpenVINO float32 and NNCF int8 (in a temporary folder), then for each runtime prints the
images/s and the latency p50 / p95 of one image (uint8 in, class map and probabilities out at
the image's size: the whole path, batch 1), how many pixels of its class map equal
TensorFlow's, and (on the run's validation images, the default) its IoU against the labels:
road IoU for a road model, mean IoU for several classes.  Then, on a video (--video, or one
made of the images at 10 frames/s): where the time of one frame goes with the fastest runtime
(decoding, the network's whole path, painting, writing, one after the other), and predict.py
end to end with each runtime (reading, inference, painting and writing overlapped, as users
run it).  With the anchor's files (benchmarks/anchor.py) it also prints the anchor network's
rate in OpenVINO at --anchor-shape, measured in the same run.  The first line names the CPU.
Nothing else should run meanwhile.
"""
import os
import sys

if __package__ in (None, ''):   # run by path (python benchmarks/x.py): the project's root, not benchmarks/, first
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fcnroad import cli, console  # noqa: E402

console.quiet_tensorflow()   # before anything imports TensorFlow: its start-up lines unless --verbose

import glob  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf2  # noqa: E402

from benchmarks import anchor  # noqa: E402
from fcnroad import cpu, errors  # noqa: E402
from fcnroad.data import arrays, datasets, registry  # noqa: E402
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


def model_megabytes(path):
    """The size of a model on disk: a SavedModel's variables, a file, and an OpenVINO IR's weights beside its .xml."""
    if not os.path.isfile(path):
        return sum(os.path.getsize(f) for f in glob.glob(os.path.join(path, 'variables', '*'))) / 1e6
    weights = path[:-len('.xml')] + '.bin' if path.endswith('.xml') else None
    return (os.path.getsize(path) + (os.path.getsize(weights) if weights and os.path.isfile(weights) else 0)) / 1e6


def build_parser():
    p = console.Parser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', required=True, type=console.Path('folder'), help='runs/<run>/model folder written by main.py')
    p.add_argument('--images', type=console.Path('folder'), help='a folder of test images (default: the run\'s validation images, 20 at most)')
    p.add_argument('--count', type=console.Range(int, 1), default=20, help='images to time')
    p.add_argument('--repeats', type=console.Range(int, 1), default=3)
    p.add_argument('--video', type=console.Path('file'),
                   help='the video predict.py is timed on (default: one made of the images at 10 frames/s)')
    p.add_argument('--anchor-dir', default=anchor.DEFAULT_ANCHOR_DIR, help="the anchor's IR (skipped when absent)")
    p.add_argument('--anchor-shape', type=console.Range(int, 32, multiple=32), nargs=2, default=(384, 1248),
                   metavar=('H', 'W'), help="the anchor network's input")
    return p


def export_rows(model, folder):
    """[(runtime name, model path)] of the model and each export that can be made here."""
    rows = [('TensorFlow (float32)', model),
            ('ONNX Runtime (float32)', export.export_onnx(model, os.path.join(folder, 'model.onnx'))),
            ('TFLite (float32)', export.export_tflite(model, os.path.join(folder, 'model.tflite'))),
            ('TFLite int8 (calibrated)', export.export_tflite(model, os.path.join(folder, 'int8.tflite'), int8=True))]
    try:
        rows += [('OpenVINO (float32)', export.export_openvino(model, os.path.join(folder, 'model.xml'))),
                 ('OpenVINO int8 (NNCF)', export.export_openvino(model, os.path.join(folder, 'int8.xml'), int8=True))]
    except export.ExportError as e:
        print('OpenVINO skipped: %s' % e)
    return rows


def anchor_rate(folder, shape, repeats=30):
    """Frames/s of the anchor's network alone in OpenVINO (float BGR NCHW in, its four maps out), or None."""
    try:
        predictor = anchor.AnchorPredictor(folder, shape)
    except errors.ModelError as e:
        print('The anchor is skipped: %s' % e)
        return None
    batch = np.random.RandomState(0).uniform(0, 255, (1, 3) + tuple(shape)).astype(np.float32)
    for _ in range(3):
        predictor.request.infer({0: batch})
    start = time.perf_counter()
    for _ in range(repeats):
        predictor.request.infer({0: batch})
    return repeats / (time.perf_counter() - start)


def write_video(images, path, fps=10):
    """The images as an H.264 video (each resized to the first one's size)."""
    import imageio.v2 as imageio
    size = images[0].shape[:2]
    with imageio.get_writer(path, format='FFMPEG', fps=fps, codec='libx264', quality=8, macro_block_size=1,
                            pixelformat='yuv444p') as writer:
        for image in images:
            writer.append_data(arrays.resize_image(image, size))
    return path


def time_stages(predictor, video, out_path):
    """Median ms of decoding, the whole network path, painting and writing one frame, one after the other."""
    import imageio.v2 as imageio
    from fcnroad.serving import paint
    reader = imageio.get_reader(video, format='FFMPEG')
    writer = imageio.get_writer(out_path, format='FFMPEG', fps=10, codec='libx264', quality=8, macro_block_size=1,
                                pixelformat='yuv444p')
    stages = {'decode': [], 'network': [], 'paint': [], 'write': []}
    try:
        frames = iter(reader)
        while True:
            start = time.perf_counter()
            try:
                frame = np.asarray(next(frames))[..., :3]
            except StopIteration:
                break
            decoded = time.perf_counter()
            classes, _ = predictor(frame[None])
            predicted = time.perf_counter()
            painted = paint.paint(frame, classes[0], predictor.palette)
            done_painting = time.perf_counter()
            writer.append_data(painted)
            written = time.perf_counter()
            for name, (a, b) in zip(stages, ((start, decoded), (decoded, predicted), (predicted, done_painting),
                                             (done_painting, written))):
                stages[name].append(1000 * (b - a))
    finally:
        reader.close()
        writer.close()
    return {name: float(np.median(values[1:] or values)) for name, values in stages.items()}


def main_(argv=None):
    with cli.errors_as_exit():
        args = build_parser().parse_args(argv)
    tf.disable_v2_behavior()
    labels, num_classes, road, road_class = None, None, False, None
    if args.images:
        paths = datasets.list_images(args.images)[:args.count]
    else:
        import json
        with open(os.path.join(args.model, 'run_config.json')) as f:
            config = json.load(f)
        run_args = config['args']
        _, val = registry.load(config['dataset'], run_args['data_dir'], run_args.get('val_fraction', 0.0),
                               holdout_sequence=run_args.get('holdout_sequence'))
        pairs = [pair for pair in val.pairs if pair[1] is not None][:args.count]
        paths = [image for image, _ in pairs]
        labels, num_classes = [val.read_label(label) for _, label in pairs], config['num_classes']
        road, road_class = val.positive is not None, val.positive
    images = [arrays.read_png(path) for path in paths]
    sizes = sorted({'%dx%d' % im.shape[1::-1] for im in images})
    print(cpu.describe())
    print('%s; %d images (%s), batch 1, %d repeats' % (args.model, len(images), ', '.join(sizes), args.repeats))
    folder = tempfile.mkdtemp(prefix='fcn8-inference-')
    try:
        # (row, model path): each runs through runtimes.open_predictor, as predict.py --model PATH does
        rows = export_rows(args.model, folder)
        rates = {}
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
            size = model_megabytes(path)
            score = ''
            if score_name:
                cm = sum(metrics.confusion_matrix(label, m, num_classes) for label, m in zip(labels, maps))
                score = ' %.4f |' % (metrics.binary_scores(cm, road_class)['iou'] if road else
                                     metrics.scores_from_confusion(cm)['mean_iou'])
            rates[name] = len(times) / times.sum()
            print('| %s | %.2f | %.1f | %.1f | %.2f%% |%s %.1f |' % (
                name, rates[name], 1000 * np.percentile(times, 50), 1000 * np.percentile(times, 95),
                100 * agree, score, size), flush=True)
        rate = anchor_rate(args.anchor_dir, tuple(args.anchor_shape))
        if rate is not None:
            print('The anchor, %s, its network alone in OpenVINO (float32) at %dx%d, batch 1: %.2f frames/s; the '
                  'fastest runtime here runs the whole path at %.2fx that' % (
                      anchor.ANCHOR_NAME, args.anchor_shape[0], args.anchor_shape[1], rate, max(rates.values()) / rate))
        video = args.video or write_video(images, os.path.join(folder, 'frames.mp4'))
        import imageio.v2 as imageio
        frames = imageio.get_reader(video, format='FFMPEG').count_frames()
        fastest = max(rates, key=rates.get)
        predictor = runtimes.open_predictor(dict(rows)[fastest])
        try:
            stages = time_stages(predictor, video, os.path.join(folder, 'stages.mp4'))
        finally:
            predictor.close()
        print('One frame of %s with %s, one stage after the other (median ms): %s; %.1f ms in all, %.2f frames/s' % (
            os.path.basename(video), fastest, ', '.join('%s %.1f' % kv for kv in stages.items()),
            sum(stages.values()), 1000 / sum(stages.values())))
        for name, path in rows:
            out = os.path.join(folder, 'painted')
            result = subprocess.run([sys.executable, os.path.join(ROOT, 'predict.py'), '--model', path, video,
                                     '--out', out], check=True, capture_output=True, text=True)
            shutil.rmtree(out)
            said = re.search(r'in ([0-9.]+) s: ([0-9.]+) images/s', result.stdout)
            print('predict.py --model <%s> %s: %d frames, %s frames/s end to end (%.0f%% of the whole path\'s rate '
                  'above; reading, network, painting and writing overlapped, model loading excluded)' % (
                      name, os.path.basename(video), frames, said.group(2) if said else '?',
                      100 * float(said.group(2)) / rates[name] if said else float('nan')), flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == '__main__':
    main_()
