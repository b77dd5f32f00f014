"""KITTI Road in its own `data_road` layout: training images with road masks, test images."""
import glob
import os
import re
import warnings

import numpy as np

from fcnroad.data.arrays import IGNORE, DataError, read_png
from fcnroad.data.datasets import (IMAGE_EXTENSIONS, ROAD, ROAD_CLASSES, Dataset, list_images, require_dir,
                                   split_folder)

# KITTI Road devkit colours (RGB).
KITTI_ROAD = (255, 0, 255)
KITTI_BACKGROUND = (255, 0, 0)
KITTI_NOT_EVALUATED = (0, 0, 0)
KITTI_OFFICIAL_COUNTS = {'training/image_2': 289, 'training/gt_image_2 (road)': 289,
                         'testing/image_2': 290}
KITTI_URL = 'https://s3.eu-central-1.amazonaws.com/avg-kitti/data_road.zip'   # data_road.zip, KITTI's own


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


def kitti_road_mask_name(image_name):
    """um_000000.png -> um_road_000000.png, the devkit's naming (a .jpg image has a .png mask)."""
    return re.sub(r'^(.+)_([^_]+)\.(?:png|jpe?g)$', r'\1_road_\2.png', image_name, flags=re.IGNORECASE)


def kitti_pairs(training_dir, strict=False):
    """(image, road mask) pairs of a KITTI `data_road/training` folder.

    An image without a road mask is an error when strict; otherwise it is left
    out with a warning naming it (the shared partial set has such images).
    """
    image_dir = os.path.join(training_dir, 'image_2')
    gt_dir = os.path.join(training_dir, 'gt_image_2')
    require_dir(image_dir, 'KITTI training images')
    require_dir(gt_dir, 'KITTI road masks')
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
    return training_folder_dataset(os.path.join(data_road_dir, 'training'), strict)


def training_folder_dataset(training_dir, strict=False):
    """The Dataset of a data_road/training folder (the tutorial's data_folder)."""
    return Dataset('kitti_road', kitti_pairs(training_dir, strict), ROAD_CLASSES, kitti_label, positive=ROAD)


def kitti_test_images(data_road_dir):
    test_dir = os.path.join(data_road_dir, 'testing', 'image_2')
    require_dir(test_dir, 'KITTI test images')
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


def load(data_dir, val_fraction, strict, unlabelled_ok):
    """(train, val) of <data_dir>/data_road/training: val_images.txt's images held out, else val_fraction."""
    data_road = os.path.join(data_dir, 'data_road')
    return split_folder(kitti_dataset(data_road, strict), data_road, val_fraction)


def paint(data_dir):
    return kitti_test_images(os.path.join(data_dir, 'data_road'))
