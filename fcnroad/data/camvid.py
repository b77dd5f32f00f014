"""CamVid in SegNet's layout: <split>/ images and <split>annot/ labels, 11 classes (or road / not road)."""
import glob
import os

import numpy as np

from fcnroad.data.arrays import IGNORE, DataError, read_png
from fcnroad.data.datasets import ROAD, ROAD_CLASSES, Dataset, require_dir

CAMVID_CLASSES = ('Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree', 'SignSymbol',
                  'Fence', 'Car', 'Pedestrian', 'Bicyclist')
CAMVID_ROAD = 3
CAMVID_UNLABELLED = 11
CAMVID_COLOURS = ((128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128),
                  (60, 40, 222), (128, 128, 0), (192, 128, 128), (64, 64, 128),
                  (64, 0, 128), (64, 64, 0), (0, 128, 192))


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


def camvid_dataset(camvid_dir, split_name, binary=False):
    """CamVid in SegNet's layout: <split>/ images and <split>annot/ labels."""
    image_dir = os.path.join(camvid_dir, split_name)
    annot_dir = os.path.join(camvid_dir, split_name + 'annot')
    require_dir(image_dir, 'CamVid %s images' % split_name)
    require_dir(annot_dir, 'CamVid %s labels' % split_name)
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


def loader(binary):
    """load(data_dir, ...) of CamVid's train and val splits (binary: road / not road)."""
    def load(data_dir, val_fraction, strict, unlabelled_ok):
        return tuple(camvid_dataset(os.path.join(data_dir, 'camvid'), name, binary) for name in ('train', 'val'))
    return load


def test_loader(binary):
    return lambda data_dir: camvid_dataset(os.path.join(data_dir, 'camvid'), 'test', binary)
