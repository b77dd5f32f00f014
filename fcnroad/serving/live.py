"""Live input for predict.py: a camera or a stream, painted as it comes, written to a video.

A source is a camera index (`0`, `1`, ...: /dev/video0, ... through OpenCV) or a stream URL
(rtsp://, http://, https://, udp://, rtmp://: whatever OpenCV's FFmpeg reads).  A capture
thread reads it continuously.  With realtime, it keeps only the newest frame: the network
takes whatever is newest when it is free, and the frames it had no time for are dropped
(counted), so the painted video never falls behind the camera.  Without it every frame is
painted, in order, and a source faster than the network waits for it (a camera's driver then
drops frames itself).  Every painted frame is written; each frame's latency (captured to
written) and the frames/s kept are printed at the end and written beside the video.
"""
import csv
import os
import re
import threading
import time

import numpy as np

from fcnroad import errors
from fcnroad.data import arrays
from fcnroad.serving import paint
from fcnroad.serving.predictor import InputError

STREAM_SCHEMES = ('rtsp', 'rtsps', 'http', 'https', 'udp', 'tcp', 'rtmp')
LATENCY_SUFFIX = '_latency.csv'


def is_live(item):
    """Whether a predict.py INPUT names a camera (a number, not a file of that name) or a stream URL."""
    if os.path.exists(item):
        return False
    return item.isdigit() or re.match(r'^(%s)://' % '|'.join(STREAM_SCHEMES), item, re.IGNORECASE) is not None


def source_name(item):
    """The file stem a source's video is written under: camera0, or the stream's host and path."""
    if item.isdigit():
        return 'camera%s' % item
    return re.sub(r'[^A-Za-z0-9_.-]+', '_', item.split('://', 1)[1]).strip('_.') or 'stream'


def open_capture(item):
    """OpenCV's capture of a camera index or a stream URL; an InputError names it when it does not open."""
    try:
        import cv2
    except ImportError:
        raise errors.ConfigError('live input needs OpenCV: pip install "fcnroad[live]", or -r requirements.txt') from None
    capture = cv2.VideoCapture(int(item)) if item.isdigit() else cv2.VideoCapture(item, cv2.CAP_FFMPEG)
    if not capture.isOpened():
        capture.release()
        raise InputError('%s: cannot open this %s' % (item, 'camera' if item.isdigit() else 'stream'))
    return capture


class Frames:
    """A capture read by a thread of its own: next() gives (frame RGB uint8, captured at, index), the newest
    one when newest_only (earlier ones unread are dropped and counted), else each in turn; None at the end."""

    def __init__(self, capture, newest_only, clock=time.perf_counter, queue_size=4):
        self.capture, self.newest_only, self.clock = capture, newest_only, clock
        self.items, self.ended, self.dropped, self.read_count = [], False, 0, 0
        self.queue_size = queue_size
        self.error = None
        self.condition = threading.Condition()
        self.stopping = False
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        try:
            while not self.stopping:
                ok, frame = self.capture.read()
                if not ok:
                    break
                item = (np.ascontiguousarray(frame[..., 2::-1]), self.clock(), self.read_count)   # BGR -> RGB
                self.read_count += 1
                with self.condition:
                    if self.newest_only:
                        self.dropped += len(self.items)
                        self.items = [item]
                    else:
                        while len(self.items) >= self.queue_size and not self.stopping:
                            self.condition.wait(0.1)
                        self.items.append(item)
                    self.condition.notify_all()
        except BaseException as e:      # raised in the consumer
            self.error = e
        with self.condition:
            self.ended = True
            self.condition.notify_all()

    def next(self):
        with self.condition:
            while not self.items and not self.ended:
                self.condition.wait(0.1)
            if self.error is not None:
                raise self.error
            if not self.items:
                return None
            item = self.items.pop(0)
            self.condition.notify_all()
            return item

    def stop(self):
        self.stopping = True
        with self.condition:
            self.condition.notify_all()
        self.thread.join(timeout=5)
        self.capture.release()


def paint_live(predictor, item, out_dir, realtime=False, max_frames=None, seconds=None, fps=None, capture=None,
               writer_factory=None, on_frame=None, clock=time.perf_counter):
    """Paint a camera or a stream into <out_dir>/<source_name>.mp4 until it ends, max_frames are painted or
    seconds have passed; returns {'frames', 'dropped', 'seconds', 'fps', 'latency_p50', 'latency_p95'} (latency
    in seconds, captured to written) and writes each frame's latency to <name>_latency.csv.

    capture, writer_factory(path, fps): for tests, a capture object and a video writer in place of OpenCV's and
    imageio's.  on_frame(index, latency): called after each frame is written (the progress bar)."""
    import imageio.v2 as imageio
    capture = capture if capture is not None else open_capture(item)
    rate = fps or _capture_rate(capture) or 25.0
    name = source_name(item)
    target = os.path.join(out_dir, name + '.mp4')
    staging = arrays.staging_name(target)
    make_writer = writer_factory or (lambda path, rate: imageio.get_writer(
        path, format='FFMPEG', fps=rate, codec='libx264', quality=8, macro_block_size=1, pixelformat='yuv444p'))
    frames = Frames(capture, realtime, clock)
    writer, latencies, start = None, [], clock()
    try:
        while max_frames is None or len(latencies) < max_frames:
            if seconds is not None and clock() - start >= seconds:
                break
            try:
                got = frames.next()
                if got is None:
                    break
                frame, captured, index = got
                classes, _ = predictor(frame[None])
                if writer is None:
                    writer = make_writer(staging, rate)
                writer.append_data(paint.paint(frame, classes[0], predictor.palette))
            except KeyboardInterrupt:      # Ctrl-C ends a live source: what was painted is kept
                break
            latency = clock() - captured
            latencies.append((index, latency))
            if on_frame is not None:
                on_frame(index, latency)
    except BaseException:
        if writer is not None:
            writer.close()
        if os.path.exists(staging):
            os.remove(staging)
        raise
    finally:
        frames.stop()
    if writer is None:
        raise InputError('%s: no frame arrived' % item)
    writer.close()
    os.replace(staging, target)
    elapsed = clock() - start
    with open(os.path.join(out_dir, name + LATENCY_SUFFIX), 'w', newline='') as f:
        rows = csv.writer(f)
        rows.writerow(['frame', 'latency_ms'])
        rows.writerows((index, '%.1f' % (1000 * latency)) for index, latency in latencies)
    values = np.array([latency for _, latency in latencies])
    return {'frames': len(latencies), 'dropped': frames.dropped, 'seconds': elapsed,
            'fps': len(latencies) / elapsed if elapsed else float('nan'),
            'latency_p50': float(np.percentile(values, 50)), 'latency_p95': float(np.percentile(values, 95)),
            'video': target}


def _capture_rate(capture):
    try:
        import cv2
        rate = capture.get(cv2.CAP_PROP_FPS)
    except (ImportError, AttributeError):
        return None
    return rate if rate and 1 <= rate <= 240 else None
