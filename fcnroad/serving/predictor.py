"""A trained model on images and videos: inputs found, batched by size, painted, written complete or not at all.

Images of any size: the serving path resizes each to the training height at its own
aspect ratio and its probabilities back to the image's own size.  Every file is written
under a staging name and renamed when complete.  TensorFlow is imported only
once a model is read.  Reading and decoding run in one thread, painting and
writing in another, around the network (pipelined()): bounded queues keep memory
flat on long videos, and one thread per side keeps the output in input order.
"""
import glob
import os
import queue
import shutil
import sys
import threading

import imageio.v2 as imageio
import numpy as np
from tqdm import tqdm

from fcnroad import errors
from fcnroad.data import arrays, datasets
from fcnroad.evaluation import metrics, scoring
from fcnroad.serving import paint, saved_model

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv')
PREDICT_BATCH = 8
PIPELINE_DEPTH = 2      # batches waiting on each side of the network
CLASS_MAP_SUFFIX = '_classes'
# H.264 in yuv420p needs even sides; odd-sized videos keep their size in yuv444p.
VIDEO_CODEC = 'libx264'
VIDEO_QUALITY = 8   # imageio's 0..10 scale


class InputError(errors.DataError):
    """An input (image, video, folder) that cannot be used; the message names it."""

    prefix = 'input error: '


def find_inputs(inputs):
    """[(kind, path)] with kind 'image' or 'video', in the order given; errors name the input."""
    found = []
    for item in inputs:
        if os.path.isdir(item):
            files = sorted(os.path.join(item, f) for f in os.listdir(item)
                           if f.lower().endswith(datasets.IMAGE_EXTENSIONS + VIDEO_EXTENSIONS))
            if not files:
                raise InputError('%s: folder holds no images (%s) or videos (%s)' % (
                    item, ' '.join(datasets.IMAGE_EXTENSIONS), ' '.join(VIDEO_EXTENSIONS)))
        elif os.path.isfile(item):
            files = [item]
        elif glob.has_magic(item):
            files = sorted(glob.glob(item))
            if not files:
                raise InputError('%s: no file matches this pattern' % item)
        else:
            raise InputError('%s: no such file or folder' % item)
        for path in files:
            ext = os.path.splitext(path)[1].lower()
            if ext in datasets.IMAGE_EXTENSIONS:
                found.append(('image', path))
            elif ext in VIDEO_EXTENSIONS:
                found.append(('video', path))
            else:
                raise InputError('%s: unknown extension %r (images: %s; videos: %s)' % (
                    path, ext, ' '.join(datasets.IMAGE_EXTENSIONS), ' '.join(VIDEO_EXTENSIONS)))
    names = {}
    for _, path in found:
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem in names and names[stem] != path:
            raise InputError('%s and %s would both be written as %s: predict them into separate --out folders'
                             % (names[stem], path, stem))
        names[stem] = path
    return found


class Predictor:
    """A saved model in a session behind today's serving path (saved_model.serving_graph, whatever path it was
    saved with): uint8 images in, classes and probabilities out."""

    def __init__(self, model_dir, flip=False, scales=(1.0,), crf=False, threshold=metrics.DECISION):
        import tensorflow.compat.v1 as tf
        tf.get_logger().setLevel('ERROR')   # disable_v2_behavior's deprecation notice is noise
        tf.disable_v2_behavior()
        self.graph = tf.Graph()
        self.sess = tf.Session(graph=self.graph)
        with self.graph.as_default():
            serving, self.run_config = saved_model.load_serving(self.sess, model_dir)
        self.flip, self.scales, self.crf = flip, tuple(scales), crf
        self.threshold = check_threshold(threshold, self.run_config)
        self.images, self.classes, self.probabilities = serving['images'], serving['classes'], serving['probabilities']
        self.feed_threshold = serving['threshold']
        self.tensors = {'image_input': serving['image_input'], 'keep_prob': serving['keep_prob'],
                        'probabilities': serving['network_probabilities']}
        self.palette = paint.model_colours(self.run_config)

    def __call__(self, images):
        """(classes uint8 (N, H, W), probabilities (N, H, W, C)) for a uint8 batch (N, H, W, 3).

        With test-time augmentation (flip, scales) the network runs through its
        training-size signature at each scale and mirrored, as evaluate.py does;
        with crf each map is then refined by the dense CRF.
        """
        if not self.flip and self.scales == (1.0,):
            classes, probs = self.sess.run([self.classes, self.probabilities],
                                           {self.images: images, self.feed_threshold: self.threshold})
            if not self.crf:
                return classes, probs
        else:
            probs = np.stack(scoring.tta_probabilities(
                self.sess, self.tensors, list(images), tuple(self.run_config['image_shape']),
                [images.shape[1:3]] * len(images), self.flip, self.scales))
        if self.crf:
            probs = np.stack(scoring.refine(list(images), list(probs)))
        return metrics.classes_from_probabilities(probs, self.run_config['positive_class']), probs

    def close(self):
        self.sess.close()


def check_threshold(threshold, run_config):
    """threshold, if the model has a positive class to decide by it (a road model); else metrics.DECISION."""
    if threshold != metrics.DECISION and run_config.get('positive_class') is None:
        raise errors.ConfigError('--threshold %g: decides a road model\'s road; this model has %d classes alike, '
                                 'decided by the most probable' % (threshold, run_config['num_classes']))
    return threshold


def _batches_of_equal_size(paths, batch_size, skipped=None):
    """Read images and group consecutive ones of the same size into batches of (paths, array).

    skipped: a list to which each unreadable image is added as (path, error), with a warning,
    instead of stopping (None: the first one stops).
    """
    batch, paths_in_batch = [], []
    for path in paths:
        try:
            image = arrays.read_png(path)
        except arrays.DataError as e:
            if skipped is None:
                raise
            tqdm.write('WARNING: skipped: %s' % e, file=sys.stderr)
            skipped.append((path, str(e)))
            continue
        if batch and (len(batch) == batch_size or image.shape != batch[0].shape):
            yield paths_in_batch, np.stack(batch)
            batch, paths_in_batch = [], []
        batch.append(image)
        paths_in_batch.append(path)
    if batch:
        yield paths_in_batch, np.stack(batch)


_END = object()


def pipelined(source, work, sink, depth=PIPELINE_DEPTH, threads=True):
    """sink(item, work(item)) for each item of source, in order; source and sink in threads of their own.

    The calling thread runs work (the network: a session is not shared between threads).
    An exception on either side stops the others and is raised here.  threads=False: one
    after the other, in this thread (the same results; the tests compare the two).
    """
    if not threads:
        for item in source:
            sink(item, work(item))
        return
    inbox, outbox = queue.Queue(depth), queue.Queue(depth)
    failed, stop = [], threading.Event()

    def put(box, item):     # gives up once another side failed, so no thread waits forever
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read():
        try:
            for item in source:
                if not put(inbox, item):
                    return
        except BaseException as e:
            failed.append(e)
            stop.set()
        put(inbox, _END)

    def write():
        try:
            while True:
                try:
                    got = outbox.get(timeout=0.1)
                except queue.Empty:
                    if stop.is_set():
                        return
                    continue
                if got is _END:
                    return
                sink(*got)
        except BaseException as e:
            failed.append(e)
            stop.set()

    reader, writer = threading.Thread(target=read, daemon=True), threading.Thread(target=write, daemon=True)
    reader.start()
    writer.start()
    try:
        while not stop.is_set():
            try:
                item = inbox.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _END:
                break
            if not put(outbox, (item, work(item))):
                break
    except BaseException:
        stop.set()
        raise
    finally:
        if not stop.is_set():
            put(outbox, _END)
            writer.join()
        stop.set()
        reader.join()
        writer.join()
    if failed:
        raise failed[0]


def predict_images(predictor, paths, out_dir, class_map=False, batch_size=PREDICT_BATCH, bar=None, skipped=None,
                   threads=True):
    """Overlay (and class map) PNGs of each image at its own size; returns the number done."""
    done = [0]

    def write(batch, result):
        (batch_paths, images), (classes, _) = batch, result
        for path, image, cls in zip(batch_paths, images, classes):
            stem = os.path.splitext(os.path.basename(path))[0]
            arrays.write_image(os.path.join(out_dir, stem + '.png'), paint.paint(image, cls, predictor.palette))
            if class_map:
                arrays.write_image(os.path.join(out_dir, stem + CLASS_MAP_SUFFIX + '.png'), cls)
        done[0] += len(batch_paths)
        if bar is not None:
            bar.update(len(batch_paths))

    pipelined(_batches_of_equal_size(paths, batch_size, skipped), lambda batch: predictor(batch[1]), write,
              threads=threads)
    return done[0]


def _open_video(path):
    try:
        reader = imageio.get_reader(path, format='FFMPEG')
        meta = reader.get_meta_data()
    except Exception as e:  # imageio and ffmpeg raise many types for a broken file
        # ffmpeg's whole stderr rides in the message: its first line says what is wrong
        raise InputError('%s: cannot read video (%s)' % (path, str(e).strip().split('\n')[0])) from None
    return reader, meta


def _frame_batches(reader, path, batch_size):
    """Consecutive frames of equal size in batches; a frame that does not decode is an InputError."""
    batch, frames = [], 0
    try:
        for frame in reader:
            frame = np.asarray(frame)[..., :3]
            if batch and (len(batch) == batch_size or frame.shape != batch[0].shape):
                yield np.stack(batch)
                frames += len(batch)
                batch = []
            batch.append(frame)
    except (OSError, RuntimeError) as e:
        raise InputError('%s: cannot read video frame %d (%s)' % (path, frames + len(batch), e)) from None
    if batch:
        yield np.stack(batch)


def predict_video(predictor, path, out_dir, class_map=False, batch_size=PREDICT_BATCH, bar=None, threads=True):
    """Overlay video at the input's frame rate, one output frame per input frame; returns frames done."""
    reader, meta = _open_video(path)
    stem = os.path.splitext(os.path.basename(path))[0]
    target = os.path.join(out_dir, stem + '.mp4')
    staging = arrays.staging_name(target)
    maps_dir = os.path.join(out_dir, stem + CLASS_MAP_SUFFIX)
    maps_staging = arrays.staging_name(maps_dir)
    state = {'writer': None, 'frames': 0}
    try:
        if class_map:
            shutil.rmtree(maps_staging, ignore_errors=True)
            os.makedirs(maps_staging)

        def write(batch, result):
            classes, _ = result
            for frame, cls in zip(batch, classes):
                if state['writer'] is None:
                    even = frame.shape[0] % 2 == 0 and frame.shape[1] % 2 == 0
                    state['writer'] = imageio.get_writer(staging, format='FFMPEG', fps=meta.get('fps', 25),
                                                         codec=VIDEO_CODEC, quality=VIDEO_QUALITY, macro_block_size=1,
                                                         pixelformat='yuv420p' if even else 'yuv444p')
                state['writer'].append_data(paint.paint(frame, cls, predictor.palette))
                if class_map:
                    imageio.imwrite(os.path.join(maps_staging, '%06d.png' % state['frames']), cls)
                state['frames'] += 1
            if bar is not None:
                bar.update(len(batch))

        pipelined(_frame_batches(reader, path, batch_size), predictor, write, threads=threads)
        if state['writer'] is None:
            raise InputError('%s: video has no frames' % path)
        state['writer'].close()
        state['writer'] = None
        os.replace(staging, target)
        if class_map:
            shutil.rmtree(maps_dir, ignore_errors=True)
            os.replace(maps_staging, maps_dir)
    finally:
        reader.close()
        if state['writer'] is not None:
            state['writer'].close()
        if os.path.exists(staging):
            os.remove(staging)
        shutil.rmtree(maps_staging, ignore_errors=True)
    return state['frames']


def estimated_frames(path):
    """Frames of a video from its header (fps x duration), for the progress bar only.

    reader.count_frames() would decode the whole video once more just to count.
    """
    try:
        reader, meta = _open_video(path)
    except InputError:
        return None     # said when the video itself is read
    reader.close()
    fps, duration = meta.get('fps'), meta.get('duration')
    return int(round(fps * duration)) if fps and duration and np.isfinite(fps * duration) else None
