"""What a dataset is, whatever it holds: a list of (image, label) pairs, checked before training, split
into train and validation, made road / not road, combined with others.

The readers of each family (kitti_road.py, camvid.py, cityscapes.py, folders.py) return Datasets;
registry.py holds one Spec per dataset.  Labels hold class indices, IGNORE where a pixel is not
evaluated.  Errors name the file.
"""
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image
from tqdm import tqdm

from fcnroad.data.arrays import IGNORE, DataError

# Images may be PNG or JPEG (the embedded sample's); labels are PNG.
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg')
# Optional file in a dataset's folder naming the training images held out for validation, one per
# line; without it a seeded val_fraction of the images is held out.
VAL_LIST = 'val_images.txt'
# Fixed seed so the train/validation split of a folder is the same on every run.
SPLIT_SEED = 0
ROAD_CLASSES = ('not road', 'road')
ROAD = 1    # the class a road task is about: ROAD_CLASSES' second
CHECK_THREADS = 4


class Dataset:
    """A list of (image path, label path or None) and how to read their labels.

    positive: ROAD (1) when the task is about one class of two (road), scored by KITTI's measures and
    painted green; None for a task of classes alike (mean IoU, the dataset's palette).
    """

    def __init__(self, name, pairs, class_names, read_label, colours=None, positive=None):
        self.sources = None     # combine()'s: the (name, number of pairs) of each dataset it holds, in order
        self.name = name
        self.pairs = list(pairs)
        self.class_names = tuple(class_names)
        self.read_label = read_label
        self.colours = colours
        if positive is not None and not (len(self.class_names) == 2 and positive == ROAD):
            raise DataError('%s: a positive class is the second of two' % name)
        self.positive = positive

    @property
    def num_classes(self):
        return len(self.class_names)

    def with_pairs(self, pairs, name=None):
        """The same classes and reader over other pairs."""
        return Dataset(name or self.name, pairs, self.class_names, self.read_label, self.colours, self.positive)

    def subset(self, indices, suffix):
        return self.with_pairs([self.pairs[i] for i in indices], '%s/%s' % (self.name, suffix))

    def __len__(self):
        return len(self.pairs)


def check_pair(dataset, pair):
    """None if the pair reads (its label decoded, the image's size read), else the DataError's message."""
    image_path, label_path = pair
    try:
        try:
            with Image.open(image_path) as image:
                width, height = image.size
        except (OSError, ValueError) as e:
            raise DataError('%s: cannot read image (%s)' % (image_path, e)) from None
        if label_path is not None:
            label = dataset.read_label(label_path)
            if label.shape[:2] != (height, width):
                raise DataError('%s: label is %dx%d but its image %s is %dx%d' % (
                    label_path, label.shape[1], label.shape[0], image_path, width, height))
    except DataError as e:
        return str(e)
    return None


def check(dataset, threads=CHECK_THREADS, progress=True):
    """Every pair of dataset read before training: [(pair, message)] of those that do not read."""
    with ThreadPoolExecutor(threads) as pool:
        results = list(tqdm(pool.map(lambda pair: check_pair(dataset, pair), dataset.pairs), total=len(dataset),
                            desc='checking %s' % dataset.name, unit='file', leave=False, disable=not progress))
    return [(pair, message) for pair, message in zip(dataset.pairs, results) if message is not None]


def check_all(splits, skip_bad, skip_hint):
    """check() of every dataset in splits: a DataError naming the first bad file (and how many more),
    or with skip_bad each named in a warning and left out.

    skip_hint: how to leave bad files out, for the error (e.g. '--skip-bad-data leaves them out').
    Returns ([each dataset less the bad pairs], [(pair, message)]); a dataset may end up empty.
    """
    bad = [found for dataset in splits for found in check(dataset)]
    if bad and not skip_bad:
        more = ' (and %d more files that do not read; %s)' % (len(bad) - 1, skip_hint)
        raise DataError(bad[0][1] + (more if len(bad) > 1 else ''))
    for _, message in bad:
        print('WARNING: left out: %s' % message, file=sys.stderr)
    pairs = [pair for pair, _ in bad]
    return [without(dataset, pairs) for dataset in splits], bad


def without(dataset, pairs):
    """dataset less the given pairs."""
    drop = set(pairs)
    return dataset.with_pairs([p for p in dataset.pairs if p not in drop])


def require_dir(path, what):
    if not os.path.isdir(path):
        raise DataError('%s: no such folder (%s)' % (path, what))


def list_images(folder):
    """Sorted image files (PNG or JPEG) in a folder."""
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if f.lower().endswith(IMAGE_EXTENSIONS))


def split(dataset, val_fraction, seed=SPLIT_SEED):
    """Deterministic (train, val) split: a seeded permutation of the sorted file list.

    With val_fraction > 0 at least one image is held out and at least one kept
    for training; with val_fraction 0, or a single image, everything is training data.
    """
    ordered = dataset.with_pairs(sorted(dataset.pairs))
    order = np.random.RandomState(seed).permutation(len(ordered))
    n_val = max(1, int(round(len(order) * val_fraction))) if val_fraction > 0 else 0
    n_val = min(n_val, len(order) - 1)
    return ordered.subset(sorted(order[n_val:]), 'train'), ordered.subset(sorted(order[:n_val]), 'val')


def split_by_list(dataset, list_path):
    """(train, val): val holds the images named in list_path (file names, one per line)."""
    with open(list_path) as f:
        names = [line.strip() for line in f if line.strip()]
    index = {os.path.basename(image): i for i, (image, _) in enumerate(dataset.pairs)}
    missing = [n for n in names if n not in index]
    if missing:
        raise DataError('%s: names images that are not labelled training images: %s'
                        % (list_path, ', '.join(missing[:5])))
    val = sorted({index[n] for n in names})
    held = set(val)
    train = [i for i in range(len(dataset)) if i not in held]
    if not train:
        raise DataError('%s: holds out every training image' % list_path)
    return dataset.subset(train, 'train'), dataset.subset(val, 'val')


def split_folder(dataset, folder, val_fraction):
    """(train, val) by the folder's val_images.txt or val_fraction; images without a label train only."""
    unlabelled = [pair for pair in dataset.pairs if pair[1] is None]
    if unlabelled:
        if len(unlabelled) == len(dataset):
            raise DataError('%s: no image has a mask, and validation needs some' % folder)
        dataset = dataset.with_pairs([p for p in dataset.pairs if p[1] is not None])
    val_list = os.path.join(folder, VAL_LIST)
    train, val = split_by_list(dataset, val_list) if os.path.isfile(val_list) else split(dataset, val_fraction)
    if unlabelled:
        train = train.with_pairs(train.pairs + sorted(unlabelled))
    return train, val


def as_road(dataset, road):
    """dataset as road / not road: class `road` of its labels is road, every other not road, IGNORE stays."""
    if dataset.positive == ROAD and road == ROAD:
        return dataset
    read = dataset.read_label

    def read_road(path):
        label = read(path)
        return np.where(label == IGNORE, np.uint8(IGNORE), (label == road).astype(np.uint8)).astype(np.uint8)
    return Dataset(dataset.name, dataset.pairs, ROAD_CLASSES, read_road, positive=ROAD)


def combine(parts, name=None):
    """One road dataset of several road datasets (as_road's), laid end to end; its `sources` holds each part's
    (name, number of pairs), in order, for a batch mix (helper.Batches) and scoring per source."""
    readers = {}
    for part in parts:
        if part.positive != ROAD:
            raise DataError('%s: only road datasets (as_road) combine' % part.name)
        for image, label in part.pairs:
            if label is None:
                raise DataError('%s: an image without a mask (%s) cannot train beside other datasets'
                                % (part.name, image))
            readers[label] = part.read_label
    combined = Dataset(name or '+'.join(part.name for part in parts), [pair for part in parts for pair in part.pairs],
                       ROAD_CLASSES, lambda path: readers[path](path), positive=ROAD)
    combined.sources = tuple((part.name, len(part)) for part in parts)
    return combined
