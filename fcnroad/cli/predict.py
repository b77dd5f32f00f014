"""Paint a trained model's road (or classes) on your own images and videos.

    python predict.py --model runs/<run>/model INPUT... --out DIR
    python predict.py --model exports/road.onnx INPUT... --out DIR      # or a .tflite or OpenVINO .xml file

--model is a saved model folder or an export of one (export.py): the runtime follows
from it (tensorflow, onnx, tflite, openvino) and --runtime, if given, must agree.

INPUT is an image, a folder (its images and videos), a quoted glob, a video
(mp4, avi, mov, mkv, read and written through imageio-ffmpeg's own ffmpeg), or a live
source: a camera index (0, 1, ...) or a stream URL (rtsp://, http://, ...), painted into
DIR/<source>.mp4 as it comes until it ends, --frames or --seconds are reached, or Ctrl-C;
--realtime paints the newest frame each time and drops the ones it has no time for.
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
from fcnroad.serving import live, runtimes, saved_model  # noqa: E402
from fcnroad.serving.predictor import (PREDICT_BATCH, InputError, estimated_frames, find_inputs,  # noqa: E402
                                       predict_images, predict_video)

def build_parser():
    p = console.Parser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', type=console.Path(), default=saved_model.SHIPPED_MODEL,
                   help='runs/<run>/model folder written by main.py, or its .onnx, .tflite or .xml export (default: the '
                        'shipped road model)')
    p.add_argument('--runtime', choices=runtimes.RUNTIMES,
                   help="default: the model's own (a folder: tensorflow; .onnx: onnx; .tflite: tflite; .xml: openvino)")
    p.add_argument('inputs', nargs='+', metavar='INPUT', help='image, folder, quoted glob or video')
    p.add_argument('--out', default='painted', help='folder for the painted images and videos')
    p.add_argument('--class-map', action='store_true', help='also write the class index maps as PNG')
    p.add_argument('--batch-size', type=console.Range(int, 1), default=PREDICT_BATCH)
    scoring.add_test_time_options(p)
    live = p.add_argument_group('live input (a camera index or a stream URL)')
    live.add_argument('--realtime', action='store_true',
                      help='paint the newest frame each time, dropping those there is no time for, so the painted '
                           'video keeps up with the source (default: every frame, in order)')
    live.add_argument('--frames', type=console.Range(int, 1), metavar='N', help='stop after painting N frames')
    live.add_argument('--seconds', type=console.Range(float, 0, low_open=True), metavar='S', help='stop after S seconds')
    p.add_argument('--strict', action='store_true',
                   help='stop at the first unreadable input (default: warn, go on, list them at the end, exit 1)')
    console.add_verbose_flag(p)
    return p


def main(argv=None):
    with cli.errors_as_exit():
        return paint_inputs(build_parser().parse_args(argv))


def paint_inputs(args):
    sources = [item for item in args.inputs if live.is_live(item)]
    inputs = find_inputs([item for item in args.inputs if item not in sources]) if len(sources) < len(args.inputs) \
        else []
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise errors.ConfigError('--out %s: exists and is not a folder' % args.out)
    for flag, value in (('--realtime', args.realtime), ('--frames', args.frames), ('--seconds', args.seconds)):
        if value and not sources:
            raise errors.ConfigError('%s belongs to a live source (a camera index or a stream URL): none is given'
                                     % flag)
    predictor = runtimes.open_predictor(args.model, args.runtime, args.flip, args.scales, args.crf, args.threshold)
    print('%s; runtime %s' % (saved_model.describe(predictor.run_config), runtimes.runtime_of(args.model)))
    os.makedirs(args.out, exist_ok=True)
    images = [path for kind, path in inputs if kind == 'image']
    videos = [path for kind, path in inputs if kind == 'video']
    try:
        for source in sources:
            paint_source(predictor, source, args)
    except BaseException:
        predictor.close()
        raise
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
    if inputs:
        print('%d images (%d image files, %d videos) in %.1f s: %.2f images/s, written to %s'
              % (done, len(images), len(videos), seconds, done / seconds if seconds else float('nan'), args.out))
    if skipped:
        raise errors.Skipped('%d inputs painted, %d skipped (unreadable): %s' % (
            len(images) + len(videos) - len(skipped), len(skipped), ', '.join(path for path, _ in skipped)))
    return done


def paint_source(predictor, source, args):
    """A camera or a stream painted live (live.paint_live), with a progress line of frames/s and latency."""
    with tqdm(unit='frame', desc=source) as bar:
        def on_frame(index, latency):
            bar.update(1)
            bar.set_postfix(latency='%.0f ms' % (1000 * latency))
        result = live.paint_live(predictor, source, args.out, realtime=args.realtime, max_frames=args.frames,
                                 seconds=args.seconds, on_frame=on_frame)
    print('%s: %d frames painted in %.1f s (%.2f frames/s), %d dropped to keep up; latency from capture to written '
          'p50 %.0f ms, p95 %.0f ms (each frame\'s in %s); written to %s' % (
              source, result['frames'], result['seconds'], result['fps'], result['dropped'],
              1000 * result['latency_p50'], 1000 * result['latency_p95'],
              os.path.splitext(result['video'])[0] + live.LATENCY_SUFFIX, result['video']))
    return result


if __name__ == '__main__':
    main()
