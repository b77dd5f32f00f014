"""Your own data: <folder>/images/*, <folder>/labels/<same stem>.png and <folder>/classes.json."""
import json
import os

import numpy as np
from PIL import Image

from fcnroad.data.arrays import IGNORE, DataError, read_png
from fcnroad.data.datasets import ROAD, Dataset, list_images, require_dir, split_folder

FOLDER_CLASSES_FILE = 'classes.json'


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
    require_dir(image_dir, 'images of a --dataset folder')
    require_dir(label_dir, 'labels of a --dataset folder')
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


def load(data_dir, val_fraction, strict, unlabelled_ok):
    return split_folder(folder_dataset(data_dir, unlabelled_ok=unlabelled_ok), data_dir, val_fraction)


def load_test(data_dir):
    test_dir = os.path.join(data_dir, 'test')
    require_dir(test_dir, 'test split of a --dataset folder: test/images, test/labels')
    dataset = folder_dataset(test_dir, 'folder/test')
    if dataset.class_names != folder_dataset(data_dir).class_names:
        raise DataError('%s: classes differ from %s' % (os.path.join(test_dir, FOLDER_CLASSES_FILE),
                                                        os.path.join(data_dir, FOLDER_CLASSES_FILE)))
    return dataset
