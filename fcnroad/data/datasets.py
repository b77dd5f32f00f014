"""The datasets on disk: KITTI Road (`data_road` layout), CamVid (SegNet layout), Cityscapes, your folder.

Every reader returns an RGB uint8 image and a uint8 label map of class
indices, with IGNORE where a pixel is not evaluated.  Errors name the file.
DATASETS at the end holds one Spec per dataset: adding a dataset is a reader and its Spec.
"""
import collections
import glob
import json
import os
import re
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image
from tqdm import tqdm

from fcnroad.data.arrays import IGNORE, DataError, read_png

# KITTI Road devkit colours (RGB).
KITTI_ROAD = (255, 0, 255)
KITTI_BACKGROUND = (255, 0, 0)
KITTI_NOT_EVALUATED = (0, 0, 0)
KITTI_OFFICIAL_COUNTS = {'training/image_2': 289, 'training/gt_image_2 (road)': 289,
                         'testing/image_2': 290}
# Training images may be PNG (KITTI's own) or JPEG (the embedded sample); masks are PNG.
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg')
# Optional file in data_road/ naming the training images held out for validation,
# one per line; without it a seeded val_fraction of the images is held out.
VAL_LIST = 'val_images.txt'
KITTI_URL = 'https://s3.eu-central-1.amazonaws.com/avg-kitti/data_road.zip'   # data_road.zip, KITTI's own
# Fixed seed so the train/validation split of a folder is the same on every run.
KITTI_SPLIT_SEED = 0

CAMVID_CLASSES = ('Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree', 'SignSymbol',
                  'Fence', 'Car', 'Pedestrian', 'Bicyclist')
CAMVID_ROAD = 3
CAMVID_UNLABELLED = 11
CAMVID_COLOURS = ((128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128),
                  (60, 40, 222), (128, 128, 0), (192, 128, 128), (64, 64, 128),
                  (64, 0, 128), (64, 64, 0), (0, 128, 192))
ROAD_CLASSES = ('not road', 'road')
ROAD = 1    # the class a road task is about: ROAD_CLASSES' second


def kitti_label(path):
    """KITTI road mask -> 0 background, 1 road, IGNORE not evaluated, read the devkit's way.

    The devkit (evaluateRoad.py) takes road where the blue channel is > 0 and evaluated
    where the red channel is > 0, so a colour outside its three, such as the (0, 0, 255)
    pixels of 16 original masks, follows from those two channels (there: not evaluated).
    """
    mask = read_png(path, channels=None)
    if mask.ndim != 3 or mask.shape[2] < 3:
        raise DataError('%s: not a KITTI road mask: it has %s, a KITTI mask is RGB (road (255,0,255), '
                        'background (255,0,0), not evaluated (0,0,0))'
                        % (path, 'one channel' if mask.ndim == 2 else 'shape %s' % (mask.shape,)))
    evaluated = mask[..., 0] > 0
    if not evaluated.any():
        raise DataError('%s: not a KITTI road mask: no pixel has red > 0, so nothing in it is evaluated '
                        '(road is (255,0,255), background (255,0,0))' % path)
    return np.where(evaluated, (mask[..., 2] > 0).astype(np.uint8), np.uint8(IGNORE)).astype(np.uint8)


def camvid_label(path, binary=False):
    """CamVid annotation -> 11 classes (or road vs. rest), Unlabelled -> IGNORE."""
    label = read_png(path, channels=1)
    if label.max() > CAMVID_UNLABELLED:
        raise DataError('%s: class index %d is not a CamVid class (0..%d)'
                        % (path, label.max(), CAMVID_UNLABELLED))
    ignore = label == CAMVID_UNLABELLED
    out = (label == CAMVID_ROAD).astype(np.uint8) if binary else label.copy()
    out[ignore] = IGNORE
    return out


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


CHECK_THREADS = 4


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


def _require_dir(path, what):
    if not os.path.isdir(path):
        raise DataError('%s: no such folder (%s)' % (path, what))


def kitti_road_mask_name(image_name):
    """um_000000.png -> um_road_000000.png, the devkit's naming (a .jpg image has a .png mask)."""
    return re.sub(r'^(.+)_([^_]+)\.(?:png|jpe?g)$', r'\1_road_\2.png', image_name, flags=re.IGNORECASE)


def list_images(folder):
    """Sorted image files (PNG or JPEG) in a folder."""
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if f.lower().endswith(IMAGE_EXTENSIONS))


def kitti_pairs(training_dir, strict=False):
    """(image, road mask) pairs of a KITTI `data_road/training` folder.

    An image without a road mask is an error when strict; otherwise it is left
    out with a warning naming it (the shared partial set has such images).
    """
    image_dir = os.path.join(training_dir, 'image_2')
    gt_dir = os.path.join(training_dir, 'gt_image_2')
    _require_dir(image_dir, 'KITTI training images')
    _require_dir(gt_dir, 'KITTI road masks')
    images = list_images(image_dir)
    if not images:
        raise DataError('%s: no PNG or JPEG images' % image_dir)
    pairs, unlabelled = [], []
    for image in images:
        mask = os.path.join(gt_dir, kitti_road_mask_name(os.path.basename(image)))
        if os.path.isfile(mask):
            pairs.append((image, mask))
        else:
            unlabelled.append((image, mask))
    masks_named = {kitti_road_mask_name(os.path.basename(p)) for p in images}
    for mask in sorted(glob.glob(os.path.join(gt_dir, '*_road_*.png'))):
        if os.path.basename(mask) not in masks_named:
            image_name = re.sub(r'_road_', '_', os.path.basename(mask))
            raise DataError('%s: road mask without its image %s' % (mask, os.path.join(image_dir, image_name)))
    if unlabelled and strict:
        raise DataError('%s: image has no road mask (expected %s)' % unlabelled[0])
    if unlabelled:
        warnings.warn('%d of the %d images in %s have no road mask and are left out of training: %s'
                      % (len(unlabelled), len(images), image_dir, ', '.join(
                          '%s (expected %s)' % (os.path.basename(i), os.path.relpath(m, training_dir))
                          for i, m in unlabelled)), stacklevel=2)
    if not pairs:
        raise DataError('%s: none of the %d images has a road mask in %s' % (image_dir, len(images), gt_dir))
    return pairs


def kitti_dataset(data_road_dir, strict=False):
    pairs = kitti_pairs(os.path.join(data_road_dir, 'training'), strict)
    return Dataset('kitti_road', pairs, ROAD_CLASSES, kitti_label, positive=ROAD)


def kitti_test_images(data_road_dir):
    test_dir = os.path.join(data_road_dir, 'testing', 'image_2')
    _require_dir(test_dir, 'KITTI test images')
    images = list_images(test_dir)
    if not images:
        raise DataError('%s: no PNG or JPEG images' % test_dir)
    return images


def kitti_counts(data_road_dir):
    """File counts of a data_road folder, keyed as in KITTI_OFFICIAL_COUNTS."""
    def count(*parts):
        return len(glob.glob(os.path.join(data_road_dir, *parts)))
    return {'training/image_2': sum(count('training', 'image_2', '*' + e) for e in IMAGE_EXTENSIONS),
            'training/gt_image_2 (road)': count('training', 'gt_image_2', '*_road_*.png'),
            'testing/image_2': sum(count('testing', 'image_2', '*' + e) for e in IMAGE_EXTENSIONS)}


def split(dataset, val_fraction, seed=KITTI_SPLIT_SEED):
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


def camvid_dataset(camvid_dir, split_name, binary=False):
    """CamVid in SegNet's layout: <split>/ images and <split>annot/ labels."""
    image_dir = os.path.join(camvid_dir, split_name)
    annot_dir = os.path.join(camvid_dir, split_name + 'annot')
    _require_dir(image_dir, 'CamVid %s images' % split_name)
    _require_dir(annot_dir, 'CamVid %s labels' % split_name)
    images = sorted(glob.glob(os.path.join(image_dir, '*.png')))
    if not images:
        raise DataError('%s: no PNG images' % image_dir)
    pairs = []
    for image in images:
        annot = os.path.join(annot_dir, os.path.basename(image))
        if not os.path.isfile(annot):
            raise DataError('%s: image has no label (expected %s)' % (image, annot))
        pairs.append((image, annot))
    if binary:
        return Dataset('camvid_road/' + split_name, pairs, ROAD_CLASSES,
                       lambda p: camvid_label(p, binary=True), positive=ROAD)
    return Dataset('camvid/' + split_name, pairs, CAMVID_CLASSES, camvid_label, CAMVID_COLOURS)


# Cityscapes: gtFine labelIds -> the 19 classes it is benchmarked on (trainIds); every other id is ignored.
CITYSCAPES_CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light',
                      'traffic sign', 'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck',
                      'bus', 'train', 'motorcycle', 'bicycle')
CITYSCAPES_LABEL_IDS = (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33)
CITYSCAPES_COLOURS = ((128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
                      (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
                      (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100),
                      (0, 80, 100), (0, 0, 230), (119, 11, 32))
CITYSCAPES_IMAGE_SUFFIX = '_leftImg8bit.png'
CITYSCAPES_LABEL_SUFFIX = '_gtFine_labelIds.png'
# Your own data: <data-dir>/images, <data-dir>/labels and this file beside them.
FOLDER_CLASSES_FILE = 'classes.json'


def _cityscapes_lut():
    lut = np.full(256, IGNORE, np.uint8)
    lut[list(CITYSCAPES_LABEL_IDS)] = np.arange(len(CITYSCAPES_LABEL_IDS))
    return lut


def cityscapes_label(path, lut=_cityscapes_lut()):
    """gtFine labelIds PNG -> trainIds 0..18, IGNORE for every id not evaluated."""
    return lut[read_png(path, channels=1)]


def cityscapes_dataset(cityscapes_dir, split_name):
    """Cityscapes: leftImg8bit/<split>/<city>/*_leftImg8bit.png with gtFine/<split>/<city>/*_gtFine_labelIds.png."""
    image_root = os.path.join(cityscapes_dir, 'leftImg8bit', split_name)
    label_root = os.path.join(cityscapes_dir, 'gtFine', split_name)
    _require_dir(image_root, 'Cityscapes %s images' % split_name)
    _require_dir(label_root, 'Cityscapes %s labels' % split_name)
    images = sorted(glob.glob(os.path.join(image_root, '*', '*' + CITYSCAPES_IMAGE_SUFFIX)))
    if not images:
        raise DataError('%s: no <city>/*%s images' % (image_root, CITYSCAPES_IMAGE_SUFFIX))
    pairs = []
    for image in images:
        city = os.path.basename(os.path.dirname(image))
        label = os.path.join(label_root, city, os.path.basename(image)[:-len(CITYSCAPES_IMAGE_SUFFIX)]
                             + CITYSCAPES_LABEL_SUFFIX)
        if not os.path.isfile(label):
            raise DataError('%s: image has no label (expected %s)' % (image, label))
        pairs.append((image, label))
    return Dataset('cityscapes/' + split_name, pairs, CITYSCAPES_CLASSES, cityscapes_label, CITYSCAPES_COLOURS)


def read_folder_classes(folder):
    """(names, colours or None, positive or None) from <folder>/classes.json: {"names": [...],
    "colours": [[r, g, b], ...], "positive": "road"}; "positive" names the class a task of two is about
    (listed second), scored by KITTI's measures and painted green."""
    path = os.path.join(folder, FOLDER_CLASSES_FILE)
    if not os.path.isfile(path):
        raise DataError('%s: missing; it names the classes, e.g. {"names": ["background", "road"], '
                        '"colours": [[0, 0, 0], [0, 255, 0]]}' % path)
    try:
        with open(path) as f:
            spec = json.load(f)
        names = [str(n) for n in spec['names']]
        colours = spec.get('colours')
        positive = spec.get('positive')
    except (ValueError, KeyError, TypeError) as e:
        raise DataError('%s: not a class list (%s)' % (path, e)) from None
    if not 2 <= len(names) < IGNORE:
        raise DataError('%s: needs 2 to %d class names, has %d' % (path, IGNORE - 1, len(names)))
    if colours is not None:
        if len(colours) != len(names) or any(len(c) != 3 or not all(0 <= v <= 255 for v in c) for c in colours):
            raise DataError('%s: "colours" must give one [r, g, b] (0..255) per class name' % path)
        colours = tuple(tuple(int(v) for v in c) for c in colours)
    if positive is not None:
        if len(names) != 2 or positive != names[ROAD]:
            raise DataError('%s: "positive" must name the second of two classes (%s), not %r'
                            % (path, ', '.join(names), positive))
        positive = ROAD
    return names, colours, positive


def read_palette_indices(path):
    """The indices of a palette ('P' mode) image, or None for an image of another mode."""
    try:
        with Image.open(path) as image:
            return np.asarray(image, np.uint8) if image.mode == 'P' else None
    except (OSError, ValueError) as e:
        raise DataError('%s: cannot read image (%s)' % (path, e)) from None


def index_label(path, num_classes):
    """A PNG of class indices (IGNORE = not evaluated); any other value is an error naming the file.

    A palette PNG (VOC's layout, labelme2voc's output) holds its class indices as the palette
    indices: those are read, not the colours they are drawn in.
    """
    label = read_palette_indices(path)
    if label is None:
        label = read_png(path, channels=1)
    bad = (label >= num_classes) & (label != IGNORE)
    if bad.any():
        raise DataError('%s: class index %d is out of range 0..%d (%d = ignored)'
                        % (path, label[bad].max(), num_classes - 1, IGNORE))
    return label


def folder_dataset(folder, name='folder', unlabelled_ok=False):
    """Your own data: <folder>/images/* with <folder>/labels/<same stem>.png and <folder>/classes.json.

    unlabelled_ok: images without a label are kept with None (training from boxes needs masks
    only for the images it validates on).
    """
    image_dir, label_dir = os.path.join(folder, 'images'), os.path.join(folder, 'labels')
    _require_dir(image_dir, 'images of a --dataset folder')
    _require_dir(label_dir, 'labels of a --dataset folder')
    names, colours, positive = read_folder_classes(folder)
    images = list_images(image_dir)
    if not images:
        raise DataError('%s: no PNG or JPEG images' % image_dir)
    pairs = []
    for image in images:
        label = os.path.join(label_dir, os.path.splitext(os.path.basename(image))[0] + '.png')
        if not os.path.isfile(label):
            if not unlabelled_ok:
                raise DataError('%s: image has no label (expected %s)' % (image, label))
            label = None
        pairs.append((image, label))
    num_classes = len(names)
    return Dataset(name, pairs, names, lambda p: index_label(p, num_classes), colours, positive)


def _kitti(data_dir, val_fraction, strict, unlabelled_ok):
    data_road = os.path.join(data_dir, 'data_road')
    return _split(kitti_dataset(data_road, strict), data_road, val_fraction)


def _kitti_paint(data_dir):
    return kitti_test_images(os.path.join(data_dir, 'data_road'))


def _camvid(binary):
    def load_camvid(data_dir, val_fraction, strict, unlabelled_ok):
        return tuple(camvid_dataset(os.path.join(data_dir, 'camvid'), name, binary) for name in ('train', 'val'))
    return load_camvid


def _camvid_test(binary):
    return lambda data_dir: camvid_dataset(os.path.join(data_dir, 'camvid'), 'test', binary)


def _cityscapes(data_dir, val_fraction, strict, unlabelled_ok):
    return tuple(cityscapes_dataset(os.path.join(data_dir, 'cityscapes'), name) for name in ('train', 'val'))


def _folder(data_dir, val_fraction, strict, unlabelled_ok):
    return _split(folder_dataset(data_dir, unlabelled_ok=unlabelled_ok), data_dir, val_fraction)


def _folder_test(data_dir):
    test_dir = os.path.join(data_dir, 'test')
    _require_dir(test_dir, 'test split of a --dataset folder: test/images, test/labels')
    dataset = folder_dataset(test_dir, 'folder/test')
    if dataset.class_names != folder_dataset(data_dir).class_names:
        raise DataError('%s: classes differ from %s' % (os.path.join(test_dir, FOLDER_CLASSES_FILE),
                                                        os.path.join(data_dir, FOLDER_CLASSES_FILE)))
    return dataset


class Spec(collections.namedtuple('Spec', 'load load_test paint classes defaults sequences road',
                                   defaults=(None, None, None, {}, False, None))):
    """What a dataset is, in one place (filled by keyword).

    load(data_dir, val_fraction, strict, unlabelled_ok) -> (train, val); load_test(data_dir) -> its labelled
    test split, None where the labels are not public; paint(data_dir) -> the images a run paints (a DataError,
    or None for the dataset, paints the validation images); classes: the class names, None where the data
    names them (folder: classes.json, which may also name its positive class); defaults: the settings it
    trains with unless a flag says otherwise (measured, BENCHMARKS.md); sequences: its frames name their
    sequence (--holdout-sequence); road: the class of its labels that is road, for a run on several datasets
    (each trained as road / not road; None: the data says, as a folder's positive class or class "road").
    """


DATASETS = {
    # 256x832 against 160x576, two seeds each on the held-out block: +1.7 MaxF and +2.9 points of road
    # IoU (92.28 / 0.854 against 90.54 / 0.826; seed spread 0.4 MaxF) for 2.4x the time an image.
    # FCN-8s (options.FCN8S_ONLY: the other families keep the project's): 12 epochs of batch 4 with fc6/fc7
    # 1024 wide and conv1-conv3 frozen, 1.9x the images a second of the full network: MaxF 94.15 on the block
    # (two seeds, 0.05 apart) in under an hour of a 2-core CPU (BENCHMARKS.md, KITTI Road: quality per CPU-hour).
    'kitti': Spec(load=_kitti, paint=_kitti_paint, classes=ROAD_CLASSES, road=ROAD,
                  defaults={'image_shape': (256, 832), 'batch_size': 4, 'epochs': 12, 'frozen_blocks': 3,
                            'fc_depth': 1024}),
    # CamVid's 360x480 frames are not KITTI's 1:3.4: they train at their own size (to a multiple of 32);
    # at dusk on unseen streets, 11 classes, 352x480 scores 0.513 mean IoU against 0.446 at 192x256.
    'camvid_road': Spec(load=_camvid(True), load_test=_camvid_test(True), classes=ROAD_CLASSES,
                        defaults={'image_shape': (352, 480)}, sequences=True, road=ROAD),
    'camvid': Spec(load=_camvid(False), load_test=_camvid_test(False), classes=CAMVID_CLASSES,
                   defaults={'image_shape': (352, 480)}, sequences=True, road=CAMVID_ROAD),
    'cityscapes': Spec(load=_cityscapes, classes=CITYSCAPES_CLASSES, road=CITYSCAPES_CLASSES.index('road')),
    'folder': Spec(load=_folder, load_test=_folder_test),
}
SEQUENCE_DATASETS = tuple(name for name, spec in DATASETS.items() if spec.sequences)


def get(kind):
    try:
        return DATASETS[kind]
    except KeyError:
        raise DataError('unknown dataset %r (choose from %s)' % (kind, ', '.join(DATASETS))) from None


def load(kind, data_dir, val_fraction=0.0, strict=False, holdout_sequence=None, unlabelled_ok=False):
    """(train, val) datasets a run trains and evaluates on.

    kitti: <data_dir>/data_road/training, split into train/val by data_road/val_images.txt
    when there is one, else by val_fraction.
    camvid, camvid_road: <data_dir>/camvid/train and val (CamVid has its own val split); with
    holdout_sequence, train and val together, split by sequence (leave one sequence out).
    cityscapes: <data_dir>/cityscapes, its train and val splits.
    folder: <data_dir>/images + labels + classes.json, split like kitti; with unlabelled_ok,
    images without a mask are training images only (for training from boxes).
    """
    spec = get(kind)
    if holdout_sequence and not spec.sequences:
        raise DataError('holding out a sequence needs a dataset whose frames name it (%s), not %s'
                        % (' or '.join(SEQUENCE_DATASETS), kind))
    train, val = spec.load(data_dir, val_fraction, strict, unlabelled_ok)
    return hold_out_sequence(train, val, holdout_sequence) if holdout_sequence else (train, val)


def camvid_sequence(image_path):
    """0001TP_006690.png -> 0001TP: CamVid names each frame by its sequence."""
    return os.path.basename(image_path).split('_')[0]


def hold_out_sequence(train, val, sequence):
    """(train, val) of CamVid train + val with every frame of one sequence held out."""
    pairs = train.pairs + val.pairs
    sequences = sorted({camvid_sequence(image) for image, _ in pairs})
    if sequence not in sequences:
        raise DataError('CamVid has no sequence %r (it has %s)' % (sequence, ', '.join(sequences)))
    everything = train.with_pairs(sorted(pairs), train.name.split('/')[0])
    held = [i for i, (image, _) in enumerate(everything.pairs) if camvid_sequence(image) == sequence]
    kept = [i for i, (image, _) in enumerate(everything.pairs) if camvid_sequence(image) != sequence]
    return everything.subset(kept, 'without-' + sequence), everything.subset(held, sequence)


def _split(dataset, folder, val_fraction):
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


def road_class(kind, dataset):
    """The class of a dataset's labels that is road (its Spec's, or for a folder its positive class or the class
    named road), for training it as road / not road beside other datasets."""
    road = get(kind).road
    if road is not None:
        return road
    if dataset.positive is not None:
        return dataset.positive
    names = [name.lower() for name in dataset.class_names]
    if 'road' in names:
        return names.index('road')
    raise DataError('%s: names no positive class and no class "road" (%s), so it cannot be trained as road / not '
                    'road beside other datasets; name its road class "road", or "positive" in %s'
                    % (dataset.name, ', '.join(dataset.class_names), FOLDER_CLASSES_FILE))


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


def load_test(kind, data_dir):
    """The labelled test split of a dataset that has one publicly."""
    spec = get(kind)
    if spec.load_test is None:
        raise DataError('%s has no public test labels (KITTI and Cityscapes score their test sets on '
                        'their own servers); use --split val' % kind)
    return spec.load_test(data_dir)
