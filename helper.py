"""The tutorial's helpers: get the VGG16, make training batches, save inference samples."""
import logging
import os
import queue
import shutil
import threading
import time
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from tqdm import tqdm

from fcnroad.data import arrays, datasets, kitti_road
from fcnroad.evaluation import metrics, scoring
from fcnroad.models import vgg, vgg_saved_model
from fcnroad.serving.paint import PAINT_ALPHA, ROAD_GREEN, class_colours, paint  # noqa: F401  (helper.paint, as before)

log = logging.getLogger('helper')

VGG_URL = 'https://s3-us-west-1.amazonaws.com/udacity-selfdrivingcar/vgg.zip'   # the tutorial's vgg.zip
DOWNLOAD_TIMEOUT_S = 30
LOADER_THREADS = 4
PREFETCH_BATCHES = 2
INFERENCE_BATCH = 8


def download_and_extract(url, dest, member, is_complete, timeout=DOWNLOAD_TIMEOUT_S):
    """Download a zip archive and move its folder `member` to `dest`.

    tqdm progress, a timeout, the size checked against Content-Length, every
    member's CRC checked, extraction into a staging folder beside dest, and
    `is_complete(folder)` checked before the rename: on any failure nothing is
    left behind (no partial archive, no half-extracted folder).
    """
    parent = os.path.dirname(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    name = os.path.basename(os.path.abspath(dest))
    zip_path = os.path.join(parent, '.%s.zip.part' % name)
    extract_dir = os.path.join(parent, '.%s-extracting' % name)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get('Content-Length') or 0)
            got = 0
            with open(zip_path, 'wb') as f, tqdm(total=total or None, unit='B', unit_scale=True,
                                                 desc=os.path.basename(url)) as bar:
                for chunk in iter(lambda: response.read(1 << 20), b''):
                    f.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
        if total and got != total:
            raise IOError('%s: got %d of %d bytes' % (url, got, total))
        try:
            with zipfile.ZipFile(zip_path) as archive:
                bad = archive.testzip()
                if bad:
                    raise IOError('%s: corrupt member %s' % (url, bad))
                shutil.rmtree(extract_dir, ignore_errors=True)
                archive.extractall(extract_dir)
        except zipfile.BadZipFile as e:
            raise IOError('%s: not a zip archive (%s)' % (url, e)) from None
        extracted = os.path.join(extract_dir, member)
        if not is_complete(extracted):
            raise IOError('%s: archive holds no complete %s/' % (url, member))
        os.replace(extracted, dest)
    finally:
        shutil.rmtree(extract_dir, ignore_errors=True)
        if os.path.exists(zip_path):
            os.remove(zip_path)


def kitti_is_complete(data_road):
    """A data_road folder with training images, road masks and test images."""
    counts = kitti_road.kitti_counts(data_road)
    return all(counts.values())


def maybe_download_kitti(data_dir, url=kitti_road.KITTI_URL, timeout=DOWNLOAD_TIMEOUT_S):
    """Make sure <data_dir>/data_road holds KITTI Road; download data_road.zip when it is missing.

    Returns the data_road folder; raises IOError (naming the URL) when the download fails.
    """
    data_road = os.path.join(data_dir, 'data_road')
    if os.path.isdir(data_road):
        return data_road
    log.info('Downloading KITTI Road (about 450 MB) from %s', url)
    download_and_extract(url, data_road, 'data_road', kitti_is_complete, timeout)
    return data_road


def maybe_download_pretrained_vgg(data_dir, vgg_path=None, url=VGG_URL, weights_h5=None,
                                  cache_dir=vgg.DEFAULT_CACHE_DIR, timeout=DOWNLOAD_TIMEOUT_S,
                                  shapes=None, fc_depth=vgg.FC_DEPTH):
    """Make sure <data_dir>/vgg (or vgg_path) holds the VGG16 SavedModel.

    Order: an existing complete folder; the tutorial's original download (fc6/fc7 4096 wide, so
    not for another fc_depth); a SavedModel built by vgg_saved_model.py from weights that can be
    obtained here (shapes: the encoder's variable shapes, smaller for test models).
    """
    vgg_path = vgg_path or os.path.join(data_dir, 'vgg')
    if vgg.is_complete(vgg_path):
        return vgg_path
    if os.path.exists(vgg_path):
        log.warning('%s is incomplete (no saved_model.pb or variables); rebuilding it', vgg_path)
        shutil.rmtree(vgg_path)
    os.makedirs(os.path.dirname(os.path.abspath(vgg_path)), exist_ok=True)
    if url and fc_depth == vgg.FC_DEPTH:
        log.info('Downloading pre-trained vgg model from %s', url)
        try:
            download_and_extract(url, vgg_path, 'vgg', vgg.is_complete, timeout)
            log.info('VGG16 source: original download %s', url)
            return vgg_path
        except Exception as e:  # any network or archive failure falls through to the build
            log.warning('original VGG download failed (%s); building it from ImageNet weights', e)
    vgg_saved_model.build(vgg_path, weights_h5, cache_dir, shapes, fc_depth)
    return vgg_path


class _Cache:
    """Decoded, resized (image, label) arrays by index, filled on first use.

    stretch: each pair resized to image_shape, the source's way (training without augmentation);
    otherwise resized as the network sees the image (arrays.network_shape: the training height,
    its own aspect ratio), for a crop of image_shape to be cut from.
    """

    def __init__(self, dataset, image_shape, stretch=True):
        self.dataset = dataset
        self.image_shape = tuple(image_shape)
        self.stretch = stretch
        self.items = {}
        self.lock = threading.Lock()

    def get(self, i):
        item = self.items.get(i)
        if item is None:
            image_path, label_path = self.dataset.pairs[i]
            image = arrays.read_png(image_path)
            label = self.dataset.read_label(label_path)
            if label.shape != image.shape[:2]:
                raise arrays.DataError('%s: label is %s but image %s is %s' % (
                    label_path, label.shape, image_path, image.shape[:2]))
            shape = self.image_shape if self.stretch else arrays.network_shape(image.shape, self.image_shape)
            item = (arrays.resize_image(image, shape), arrays.resize_label(label, shape))
            with self.lock:
                self.items[i] = item
        return item


def num_batches(num_images, batch_size):
    """Batches of an epoch: the last one may be short."""
    return -(-num_images // batch_size)


def gen_batch_function(data_folder, image_shape, dataset=None, shuffle=True, cache=True,
                       seed=None, strict=False, augment=None, shard=None, mix=None):
    """Generate a function that yields (images, one-hot labels) batches: get_batches_fn(batch_size).

    data_folder: a KITTI `data_road/training` folder (the source's argument), or
    None when `dataset` (a datasets.Dataset) is given.  Images are float32 RGB
    0..255; labels float32 one-hot with all-zero rows where a pixel is ignored.
    Batches are decoded by a thread pool while the previous ones train, and the
    resized arrays are kept in memory after the first epoch.  augment: an
    augment.Augmentation applied to each pair in the loader threads, its draws
    seeded per batch from the epoch's data order, so an epoch is reproducible;
    with it, each image keeps its aspect ratio at the training height and a random
    image_shape window of it is trained on; without it, every image is resized to
    image_shape, as the source does.  mix: each source's share of every batch, for a
    dataset of several (datasets.combine); None: in proportion to their sizes.
    shard: (index, count) for distributed training: every process draws the same order, keeps
    the full batches only (each step is a whole global batch on every worker) and reads its
    index-th of count equal parts of each.
    """
    if dataset is None:
        dataset = kitti_road.training_folder_dataset(data_folder, strict)
    return Batches(dataset, image_shape, shuffle, cache, seed, augment, shard, mix)


class Batches:
    """The tutorial's get_batches_fn, called as get_batches_fn(batch_size) for an epoch of batches.

    Its other parts, which train_nn uses when it is given one: `dataset`; `rng`, whose state
    before an epoch fixes that epoch's order (checkpoints keep it, so a resumed run draws the
    same); `num_batches(batch_size)`, an epoch's length.
    """

    def __init__(self, dataset, image_shape, shuffle=True, cache=True, seed=None, augment=None, shard=None,
                 mix=None):
        self.dataset, self.shuffle, self.cache, self.augment, self.shard = dataset, shuffle, cache, augment, shard
        self.image_shape = tuple(image_shape)
        self.store = _Cache(dataset, image_shape, stretch=augment is None)
        self.rng = np.random.RandomState(seed)
        sizes = [size for _, size in getattr(dataset, 'sources', None) or ()] or [len(dataset)]
        if mix is not None and len(mix) != len(sizes):
            raise ValueError('mix gives %d shares for %d sources' % (len(mix), len(sizes)))
        self.sizes, self.mix = sizes, mix

    def make_batch(self, indices, pool, batch_seed=None):
        items = list(pool.map(self.store.get, indices))
        if self.augment is not None:
            batch_rng = np.random.RandomState(batch_seed)
            items = [self.augment(image, label, batch_rng, self.image_shape) for image, label in items]
        images = np.stack([im for im, _ in items]).astype(np.float32)
        labels = arrays.one_hot(np.stack([lb for _, lb in items]), self.dataset.num_classes)
        if not self.cache:
            self.store.items.clear()
        return images, labels

    def num_batches(self, batch_size):
        """The batches of an epoch: all (the last may be short), or the full ones only with shard."""
        return num_batches(len(self.dataset), batch_size) if self.shard is None else len(self.dataset) // batch_size

    def __call__(self, batch_size, skip=0):
        """An epoch of batches; skip: batches of this epoch's order already trained (a resumed run)."""
        count, shard = len(self.dataset), self.shard
        if self.mix is None or len(self.sizes) == 1:
            order = self.rng.permutation(count) if self.shuffle else np.arange(count)
        else:
            order = mixed_order(self.sizes, self.mix, count, self.rng if self.shuffle else None)
        seeds = self.rng.randint(2 ** 31 - 1, size=num_batches(count, batch_size)) if self.augment is not None \
            else None
        starts = range(skip * batch_size, self.num_batches(batch_size) * batch_size, batch_size)
        part = slice(None) if shard is None else \
            slice(shard[0] * batch_size // shard[1], (shard[0] + 1) * batch_size // shard[1])
        return self.prefetched(lambda start, pool: self.make_batch(
            order[start:start + batch_size][part], pool, None if seeds is None else seeds[start // batch_size]), starts)

    @staticmethod
    def prefetched(make, starts):
        """make(start, pool) for each start, run ahead by loader threads while the consumer trains."""
        ready = queue.Queue(maxsize=PREFETCH_BATCHES)
        stop = threading.Event()

        def produce():
            try:
                with ThreadPoolExecutor(LOADER_THREADS) as pool:
                    for start in starts:
                        if stop.is_set():
                            return
                        ready.put(make(start, pool))
            except BaseException as e:  # re-raised in the consumer, with its message
                ready.put(e)
            ready.put(None)

        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        try:
            while True:
                item = ready.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while producer.is_alive():  # unblock a producer waiting on a full queue
                try:
                    ready.get_nowait()
                except queue.Empty:
                    producer.join(0.05)


def mixed_order(sizes, mix, length, rng=None):
    """length indices into sources laid end to end (sizes), each source's share of every batch as mix says.

    Each source gets its share of the length (largest remainders), spread evenly over the order, so every
    run of n indices holds about n * share of it; a source walks through its images in a random order
    (rng; None: in order), starting a new round when it has used them all, so a small source repeats.
    """
    shares = np.asarray(mix, np.float64) / np.sum(mix)
    exact = shares * length
    counts = np.floor(exact).astype(int)
    counts[np.argsort(counts - exact)[:length - counts.sum()]] += 1
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    keys, picks = [], []
    for source, (size, start, count) in enumerate(zip(sizes, starts, counts)):
        rounds = -(-count // size) if count else 0
        within = np.concatenate([rng.permutation(size) if rng is not None else np.arange(size)
                                 for _ in range(rounds)] or [np.zeros(0, int)])[:count]
        picks.append(start + within)
        keys.append((np.arange(count) + 0.5) / count + source * 1e-9)   # even spacing; ties by source
    order = np.concatenate(picks)[np.argsort(np.concatenate(keys), kind='stable')]
    return order.astype(int)


def gen_test_output(sess, logits, keep_prob, image_pl, data_folder, image_shape,
                    image_paths=None, colours=None, batch_size=INFERENCE_BATCH, probabilities=None,
                    positive=datasets.ROAD):
    """Yield (file name, painted image) for each test image, at the image's own size.

    The network sees each image at the training height and its own aspect ratio
    (arrays.network_shape; the source stretched it to image_shape); its probabilities are
    resized back to the image's resolution before painting (the source painted at the
    training size).  The softmax is built once here, not once per image, and images of
    the same size run in batches.  logits: (pixels, classes) as returned by optimize().
    probabilities: the network's own probability tensor (main.py's runs pass the one the saved
    model serves, network.network_probabilities), used instead of the logits' softmax.
    """
    import tensorflow.compat.v1 as tf
    if image_paths is None:
        image_paths = datasets.list_images(os.path.join(data_folder, 'image_2'))
    num_classes = logits.shape[-1]
    if probabilities is None:
        with tf.name_scope('inference'):
            probabilities = tf.nn.softmax(logits)
    # The logits' softmax is (pixels, classes): shaped back as the images' maps.
    maps = tf.reshape(probabilities, tf.concat([tf.shape(image_pl)[:3], [num_classes]], 0))
    tensors = {'image_input': image_pl, 'keep_prob': keep_prob, 'probabilities': maps}
    palette = class_colours(positive, colours, int(num_classes))
    for start in range(0, len(image_paths), batch_size):
        paths = image_paths[start:start + batch_size]
        originals = [arrays.read_png(p) for p in paths]
        probs = scoring.tta_probabilities(sess, tensors, originals, image_shape, [im.shape[:2] for im in originals])
        for path, image, p in zip(paths, originals, probs):
            yield os.path.basename(path), paint(image, metrics.classes_from_probabilities(p, positive), palette)


def save_inference_samples(runs_dir, data_dir, sess, image_shape, logits, keep_prob, input_image,
                           image_paths=None, colours=None, output_dir=None, probabilities=None,
                           positive=datasets.ROAD):
    """Write each test image with its predicted road painted green; return the folder.

    Without output_dir the images go to runs/<timestamp>/, written under a
    `.partial` name and renamed only once every image is there.  A caller that
    passes output_dir owns that folder and its completeness.
    """
    import imageio.v2 as imageio
    final = output_dir is None
    output_dir = output_dir or os.path.join(runs_dir, str(time.time()))
    target = output_dir + '.partial' if final else output_dir
    os.makedirs(target, exist_ok=not final)
    print('Saving test images to: {}'.format(output_dir.replace('.partial', '')))
    try:
        outputs = gen_test_output(sess, logits, keep_prob, input_image,
                                  os.path.join(data_dir, 'data_road', 'testing'), image_shape,
                                  image_paths=image_paths, colours=colours, probabilities=probabilities,
                                  positive=positive)
        for name, image in outputs:  # PNG whatever the input was: the paint stays exact
            imageio.imwrite(os.path.join(target, os.path.splitext(name)[0] + '.png'), image)
    except BaseException:
        if final:
            shutil.rmtree(target, ignore_errors=True)
        raise
    if final:
        os.replace(target, output_dir)
    return output_dir
