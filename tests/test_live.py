"""predict.py on a camera or a stream: painted as it comes; --realtime drops what it has no time for."""
import csv
import functools
import http.server
import os
import threading
import time

import imageio.v2 as imageio
import numpy as np
import pytest

import predict
from fcnroad import errors
from fcnroad.serving import live
from fcnroad.serving.predictor import Predictor
from test_predict import street


def test_a_live_source_is_a_camera_index_or_a_stream_url_not_a_file(tmp_path):
    assert live.is_live('0') and live.is_live('rtsp://camera.local/stream') and live.is_live('HTTP://x/y.mjpg')
    assert not live.is_live('photo.png') and not live.is_live('drive.mp4')
    (tmp_path / '3').write_bytes(b'')
    assert not live.is_live(str(tmp_path / '3'))       # a file of that name is a file
    assert live.source_name('0') == 'camera0'
    assert live.source_name('rtsp://10.0.0.2:554/live/main') == '10.0.0.2_554_live_main'


class FakeCapture:
    """count frames, one each interval seconds, as a camera gives them."""

    def __init__(self, count, interval, shape=(48, 64)):
        self.count, self.interval, self.shape, self.given = count, interval, shape, 0
        self.released = False

    def read(self):
        if self.given == self.count:
            return False, None
        time.sleep(self.interval)
        self.given += 1
        frame = street(self.shape, self.given)[..., ::-1]     # OpenCV's BGR
        frame[0, 0] = self.given                               # which frame it was
        return True, frame

    def get(self, _):
        return 0

    def release(self):
        self.released = True


class SlowPredictor:
    """Road below the middle, after `seconds` of thought; remembers the frames it saw."""
    palette = {1: (0, 255, 0)}

    def __init__(self, seconds):
        self.seconds, self.seen = seconds, []

    def __call__(self, images):
        time.sleep(self.seconds)
        self.seen.append(int(images[0, 0, 0, 2]))      # RGB now: the marker is in the last channel
        classes = np.zeros(images.shape[:3], np.uint8)
        classes[:, images.shape[1] // 2:] = 1
        return classes, None


class ListWriter:
    def __init__(self, path, rate):
        self.path, self.frames = path, []

    def append_data(self, frame):
        self.frames.append(frame)

    def close(self):
        open(self.path, 'wb').close()


def run(tmp_path, realtime, count=12, interval=0.01, think=0.05):
    predictor, writers = SlowPredictor(think), []
    capture = FakeCapture(count, interval)

    def writer(path, rate):
        writers.append(ListWriter(path, rate))
        return writers[-1]
    result = live.paint_live(predictor, '0', str(tmp_path), realtime=realtime, capture=capture, writer_factory=writer)
    return result, predictor.seen, writers[0].frames, capture


def test_every_frame_in_order_without_realtime(tmp_path):
    result, seen, written, capture = run(tmp_path, realtime=False)
    assert seen == list(range(1, 13)) and len(written) == 12 and result['dropped'] == 0
    assert capture.released and os.path.isfile(tmp_path / 'camera0.mp4')
    with open(tmp_path / ('camera0' + live.LATENCY_SUFFIX)) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['frame', 'latency_ms'] and len(rows) == 13


def test_realtime_paints_the_newest_frame_and_drops_the_rest(tmp_path):
    result, seen, written, _ = run(tmp_path, realtime=True)
    assert result['dropped'] > 0 and len(seen) == len(written) == result['frames'] < 12
    assert seen == sorted(seen) and result['frames'] + result['dropped'] <= 12
    assert result['latency_p95'] < 3 * 0.05 + 0.05      # never a backlog: about one frame's thought


def test_a_limit_on_frames_stops_the_source(tmp_path):
    predictor = SlowPredictor(0)
    result = live.paint_live(predictor, '0', str(tmp_path), max_frames=3, capture=FakeCapture(100, 0.001),
                             writer_factory=ListWriter)
    assert result['frames'] == 3


def test_live_flags_without_a_live_source_are_refused(tmp_path):
    image = tmp_path / 'street.png'
    imageio.imwrite(image, street((48, 64), 1))
    with pytest.raises(SystemExit, match='--realtime belongs to a live source'):
        predict.main([str(image), '--realtime', '--out', str(tmp_path / 'out')])


@pytest.fixture
def http_video(tmp_path):
    """An mp4 of 8 frames served over HTTP on loopback: a stream URL OpenCV reads."""
    frames = [street((64, 96), i) for i in range(8)]
    path = tmp_path / 'served' / 'clip.mp4'
    path.parent.mkdir()
    with imageio.get_writer(str(path), format='FFMPEG', fps=10, codec='libx264', macro_block_size=1) as writer:
        for frame in frames:
            writer.append_data(frame)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(path.parent))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield 'http://127.0.0.1:%d/clip.mp4' % server.server_address[1]
    server.shutdown()


def test_a_stream_url_is_painted_into_a_video_of_its_frames(trained_run, http_video, tmp_path):
    pytest.importorskip('cv2', reason='live input reads through OpenCV (the live extra)')
    model = os.path.join(trained_run[1], 'model')
    predict.main(['--model', model, http_video, '--out', str(tmp_path / 'out')])
    name = live.source_name(http_video)
    video = imageio.get_reader(str(tmp_path / 'out' / (name + '.mp4')))
    frames = [frame for frame in video]
    assert len(frames) == 8 and frames[0].shape[:2] == (64, 96)
    # painted as predict.py paints a file: the road green where the model says road
    predictor = Predictor(model)
    try:
        classes = predictor(street((64, 96), 0)[None])[0][0]
    finally:
        predictor.close()
    green = frames[0][..., 1].astype(int) - frames[0][..., 0]
    assert green[classes == 1].mean() > green[classes == 0].mean() + 40


def test_a_source_that_does_not_open_is_named(trained_run, tmp_path):
    pytest.importorskip('cv2', reason='live input reads through OpenCV (the live extra)')
    with pytest.raises(errors.DataError, match='rtsp://127.0.0.1:9/none: cannot open this stream'):
        live.open_capture('rtsp://127.0.0.1:9/none')
