"""Cityscapes: leftImg8bit/<split>/<city>/ images with gtFine/<split>/<city>/ labelIds, as its 19 classes."""
import glob
import os

import numpy as np

from fcnroad.data.arrays import IGNORE, DataError, read_png
from fcnroad.data.datasets import Dataset, require_dir

# gtFine labelIds -> the 19 classes it is benchmarked on (trainIds); every other id is ignored.
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
    require_dir(image_root, 'Cityscapes %s images' % split_name)
    require_dir(label_root, 'Cityscapes %s labels' % split_name)
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


def load(data_dir, val_fraction, strict, unlabelled_ok):
    return tuple(cityscapes_dataset(os.path.join(data_dir, 'cityscapes'), name) for name in ('train', 'val'))
