"""Memory benchmark: predict.py's peak RSS on a short and a long video must be the same.

    python -m benchmarks.predict_memory --model runs/<run>/model [--frames 100 10000] [--size 96 160]

Writes a synthetic video of each length (a street-like frame drifting sideways, H.264, at
the given size) in a temporary folder, runs `predict.py --model MODEL VIDEO --out DIR` on
each in a process of its own and prints each one's peak resident memory (the kernel's
ru_maxrss of that child, from wait4), its frames/s as predict.py prints them (reading,
network, painting, writing; model loading excluded) and the whole command's seconds.  The
model may be a SavedModel folder or an .onnx / .tflite export.  Nothing else should run.
"""
import os
import sys

if __package__ in (None, ''):   # run by path (python benchmarks/x.py): the project's root, not benchmarks/, first
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fcnroad import cli, console  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import imageio.v2 as imageio  # noqa: E402
import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_video(path, frames, size, fps=30):
    """A sky-over-asphalt frame with texture, shifted a pixel per frame: every frame differs."""
    h, w = size
    rng = np.random.RandomState(0)
    base = np.empty((h, 2 * w, 3), np.uint8)
    base[:h // 2] = (90, 160, 230)
    base[h // 2:] = (70, 70, 70)
    base = np.clip(base + rng.randint(-20, 20, base.shape), 0, 255).astype(np.uint8)
    with imageio.get_writer(path, format='FFMPEG', fps=fps, codec='libx264', macro_block_size=1,
                            quality=8) as writer:
        for i in range(frames):
            shift = i % w
            writer.append_data(base[:, shift:shift + w])


def run_measured(command):
    """(peak RSS in MB, seconds, stdout) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit('predict.py failed (exit %d): %s' % (proc.returncode, ' '.join(command)))
    return usage.ru_maxrss / 1024.0, seconds, out     # ru_maxrss is in KiB on Linux


def build_parser():
    p = console.Parser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', required=True, type=console.Path(), help='runs/<run>/model, or its .onnx / .tflite export')
    p.add_argument('--frames', type=console.Range(int, 1), nargs='+', default=[100, 10000])
    p.add_argument('--size', type=console.Range(int, 32), nargs=2, default=[96, 160], metavar=('H', 'W'))
    return p


def main(argv=None):
    with cli.errors_as_exit():
        args = build_parser().parse_args(argv)
    print('%s, %s, %d cores; %s; videos %dx%d' % (platform.node(), platform.processor() or platform.machine(),
                                                   os.cpu_count(), args.model, args.size[1], args.size[0]))
    print('| frames | peak RSS (MB) | frames/s (predict.py\'s own count) | whole command (s) |')
    print('|---|---|---|---|')
    folder = tempfile.mkdtemp(prefix='fcn8-memory-')
    try:
        for frames in args.frames:
            video = os.path.join(folder, 'drive_%d.mp4' % frames)
            write_video(video, frames, tuple(args.size))
            out = os.path.join(folder, 'painted_%d' % frames)
            rss, seconds, stdout = run_measured([sys.executable, os.path.join(ROOT, 'predict.py'), '--model',
                                                 args.model, video, '--out', out])
            rate = re.search(r'([\d.]+) images/s', stdout)
            print('| %d | %.0f | %s | %.1f |' % (frames, rss, rate.group(1) if rate else '?', seconds), flush=True)
            shutil.rmtree(out)
            os.remove(video)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == '__main__':
    main()
