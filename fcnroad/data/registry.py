"""The datasets a run can train on, in one registry: DATASETS holds one Spec per dataset, read by name.

Each family's reader is a module of its own (kitti_road.py, camvid.py, cityscapes.py, folders.py)
over datasets.py's Dataset; adding a dataset is a reader and its Spec here.
"""
import collections

from fcnroad.data import camvid, cityscapes, folders, kitti_road
from fcnroad.data.datasets import ROAD, ROAD_CLASSES, DataError


class Spec(collections.namedtuple('Spec', 'load load_test paint classes defaults sequences road tutorial holds',
                                   defaults=(None, None, None, {}, False, None, False, ''))):
    """What a dataset is, in one place (filled by keyword).

    load(data_dir, val_fraction, strict, unlabelled_ok) -> (train, val); load_test(data_dir) -> its labelled
    test split, None where the labels are not public; paint(data_dir) -> the images a run paints (a DataError,
    or None for the dataset, paints the validation images); classes: the class names, None where the data
    names them (folder: classes.json, which may also name its positive class); defaults: the settings it
    trains with unless a flag says otherwise (measured, BENCHMARKS.md); sequences: its frames name their
    sequence (--holdout-sequence); road: the class of its labels that is road, for a run on several datasets
    (each trained as road / not road; None: the data says, as a folder's positive class or class "road");
    tutorial: the tutorial's own data, downloaded when missing, checked by project_tests.py, and stood in for
    by the embedded sample where it cannot be had (main.find_kitti); holds: what its --data-dir folder holds.
    """


DATASETS = {
    # 256x832 against 160x576, two seeds each on the held-out block: +1.7 MaxF and +2.9 points of road
    # IoU (92.28 / 0.854 against 90.54 / 0.826; seed spread 0.4 MaxF) for 2.4x the time an image.
    # FCN-8s (options.FCN8S_ONLY: the other families keep the project's): 12 epochs of batch 4 with fc6/fc7
    # 1024 wide and conv1-conv3 frozen, 1.9x the images a second of the full network: MaxF 94.15 on the block
    # (two seeds, 0.05 apart) in under an hour of a 2-core CPU (BENCHMARKS.md, KITTI Road: quality per CPU-hour).
    'kitti': Spec(load=kitti_road.load, paint=kitti_road.paint, classes=ROAD_CLASSES, road=ROAD, tutorial=True, holds='data_road/',
                  defaults={'image_shape': (256, 832), 'batch_size': 4, 'epochs': 12, 'frozen_blocks': 3,
                            'fc_depth': 1024}),
    # CamVid's 360x480 frames are not KITTI's 1:3.4: they train at their own size (to a multiple of 32);
    # at dusk on unseen streets, 11 classes, 352x480 scores 0.513 mean IoU against 0.446 at 192x256.
    'camvid_road': Spec(load=camvid.loader(True), load_test=camvid.test_loader(True), classes=ROAD_CLASSES,
                        defaults={'image_shape': (352, 480)}, sequences=True, road=ROAD, holds='camvid/'),
    'camvid': Spec(load=camvid.loader(False), load_test=camvid.test_loader(False),
                   classes=camvid.CAMVID_CLASSES,
                   defaults={'image_shape': (352, 480)}, sequences=True, road=camvid.CAMVID_ROAD, holds='camvid/'),
    'cityscapes': Spec(load=cityscapes.load, classes=cityscapes.CITYSCAPES_CLASSES,
                       road=cityscapes.CITYSCAPES_CLASSES.index('road'), holds='cityscapes/'),
    'folder': Spec(load=folders.load, load_test=folders.load_test, holds='images/ + labels/ + classes.json'),
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
    return camvid.hold_out_sequence(train, val, holdout_sequence) if holdout_sequence else (train, val)


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
                    % (dataset.name, ', '.join(dataset.class_names), folders.FOLDER_CLASSES_FILE))


def load_test(kind, data_dir):
    """The labelled test split of a dataset that has one publicly."""
    spec = get(kind)
    if spec.load_test is None:
        raise DataError('%s has no public test labels (KITTI and Cityscapes score their test sets on '
                        'their own servers); use --split val' % kind)
    return spec.load_test(data_dir)
