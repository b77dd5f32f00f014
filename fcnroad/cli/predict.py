"""Paint a trained model's road (or classes) on your own images and videos.

    python predict.py --model runs/<run>/model INPUT... --out DIR
    python predict.py --model exports/road.onnx INPUT... --out DIR      # or a .tflite or OpenVINO .xml file

--model is a saved model folder or an export of one (export.py): the runtime follows
from it (tensorflow, onnx, tflite, openvino) and --runtime, if given, must agree.

INPUT is an image, a folder (its images and videos), a quoted glob, or a video
(mp4, avi, mov, mkv, read and written through imageio-ffmpeg's own ffmpeg).
Images of any size: the network sees each at the training height and its own aspect
ratio, and its probabilities are resized back to the image's own size.  Each image becomes
DIR/<name>.png (the overlay) and, with --class-map, DIR/<name>_classes.png
(class indices); a video becomes DIR/<name>.mp4 at its own frame rate and frame
count (class maps in DIR/<name>_classes/).  Every file is written under a
staging name and renamed when complete.
"""
from fcnroad import cli, console

console.quiet_tensorflow()   # before anything imports TensorFlow: its start-up lines unless --verbose

import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from tqdm import tqdm  # noqa: E402

from fcnroad import errors  # noqa: E402
from fcnroad.data import arrays  # noqa: E402
from fcnroad.evaluation import scoring  # noqa: E402
from fcnroad.serving import runtimes, saved_model  # noqa: E402
from fcnroad.serving.predictor import (PREDICT_BATCH, InputError, estimated_frames, find_inputs,  # noqa: E402
                                       predict_images, predict_video)

def build_parser():
    p = console.Parser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', type=console.Path(), default=saved_model.SHIPPED_MODEL,
                   help='runs/<run>/model folder written by main.py, or its .onnx, .tflite or .xml export (default: the '
                        'shipped KITTI road model)')
    p.add_argument('--runtime', choices=runtimes.RUNTIMES,
                   help="default: the model's own (a folder: tensorflow; .onnx: onnx; .tflite: tflite; .xml: openvino)")
    p.add_argument('inputs', nargs='+', metavar='INPUT', help='image, folder, quoted glob or video')
    p.add_argument('--out', default='painted', help='folder for the painted images and videos')
    p.add_argument('--class-map', action='store_true', help='also write the class index maps as PNG')
    p.add_argument('--batch-size', type=console.Range(int, 1), default=PREDICT_BATCH)
    scoring.add_test_time_options(p)
    p.add_argument('--strict', action='store_true',
                   help='stop at the first unreadable input (default: warn, go on, list them at the end, exit 1)')
    console.add_verbose_flag(p)
    return p


def main(argv=None):
    with cli.errors_as_exit():
        return paint_inputs(build_parser().parse_args(argv))


def paint_inputs(args):
    inputs = find_inputs(args.inputs)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise errors.ConfigError('--out %s: exists and is not a folder' % args.out)
    predictor = runtimes.open_predictor(args.model, args.runtime, args.flip, args.scales, args.crf, args.threshold)
    print('%s; runtime %s' % (saved_model.describe(predictor.run_config), runtimes.runtime_of(args.model)))
    os.makedirs(args.out, exist_ok=True)
    images = [path for kind, path in inputs if kind == 'image']
    videos = [path for kind, path in inputs if kind == 'video']
    start = time.time()
    done = 0
    skipped = None if args.strict else []
    try:
        frame_counts = [estimated_frames(v) for v in videos]
        total = None if None in frame_counts else len(images) + sum(frame_counts)
        with tqdm(total=total, unit='img', desc='predict') as bar:
            if images:
                done += predict_images(predictor, images, args.out, args.class_map, args.batch_size, bar, skipped)
            for video in videos:
                try:
                    done += predict_video(predictor, video, args.out, args.class_map, args.batch_size, bar)
                except InputError as e:
                    if skipped is None:
                        raise
                    tqdm.write('WARNING: skipped: %s' % e, file=sys.stderr)
                    skipped.append((video, str(e)))
    except arrays.DataError as e:
        raise e if isinstance(e, InputError) else InputError(str(e)) from None
    finally:
        predictor.close()
    seconds = time.time() - start
    print('%d images (%d image files, %d videos) in %.1f s: %.2f images/s, written to %s'
          % (done, len(images), len(videos), seconds, done / seconds if seconds else float('nan'), args.out))
    if skipped:
        raise errors.Skipped('%d inputs painted, %d skipped (unreadable): %s' % (
            len(images) + len(videos) - len(skipped), len(skipped), ', '.join(path for path, _ in skipped)))
    return done


if __name__ == '__main__':
    main()
