"""A training run's data: both splits read before the first step, and the images a run paints."""
import dataclasses
import typing

from fcnroad import errors
from fcnroad.data import arrays, datasets, registry, weak
from fcnroad.evaluation import crf



@dataclasses.dataclass(frozen=True)
class TrainingData:
    """What a run trains and validates on, read and checked once."""
    train: datasets.Dataset
    val: datasets.Dataset                 # the first source's validation split (the headline's with one source)
    val_sets: typing.List[datasets.Dataset]     # each source's
    boxes: typing.Optional[dict]          # labels made from boxes: the boxes per image (weak.py)
    num_classes: int
    class_weights: typing.Optional[typing.Sequence[float]]
    bad: list                             # (pair, message) of each pair left out by --skip-bad-data
    to_paint: typing.List[str]            # the images the run paints

def samples_to_paint(dataset, data_dir, val_set):
    """The images its dataset paints (KITTI's test images), else the validation images."""
    paint = registry.get(dataset).paint
    if paint:
        try:
            return paint(data_dir)
        except errors.DataError as e:
            print('%s; the %d validation images are painted instead' % (e, len(val_set)))
    return [image for image, _ in val_set.pairs]


def sources(args, data_dir):
    """[(dataset name, data folder)] a run trains on: --dataset's, then each --add-dataset's."""
    return [(args.dataset, data_dir)] + [tuple(source) for source in args.add_dataset or ()]


def load_sources(args, data_dir):
    """(train, [val of each source], bad pairs): every source's splits read and checked, each as road / not
    road, the training splits combined (datasets.combine) for the batch mix."""
    trains, vals, bad_data = [], [], []
    for kind, folder in sources(args, data_dir):
        train_set, val_set = registry.load(kind, folder, args.val_fraction, args.strict)
        (train_set, val_set), bad = datasets.check_all([train_set, val_set], args.skip_bad_data,
                                                       '--skip-bad-data leaves them out')
        if not len(train_set):
            raise errors.DataError('%s in %s: no training pair reads' % (kind, folder))
        road = registry.road_class(kind, train_set)
        trains.append(datasets.as_road(train_set, road))
        vals.append(datasets.as_road(val_set, road))
        bad_data += bad
    return datasets.combine(trains), vals, bad_data


def training_data(args, data_dir, image_shape):
    """The run's data, checked: train and val splits, boxes (--supervision), num_classes, class
    weights (--class-balance), the bad pairs left out and the images to paint.  Errors are one line."""
    if args.add_dataset:
        train_set, val_sets, bad_data = load_sources(args, data_dir)
        val_set = datasets.combine(val_sets, 'validation')
    else:
        train_set, val_set = registry.load(args.dataset, data_dir, args.val_fraction, args.strict,
                                           args.holdout_sequence,
                                           unlabelled_ok=bool(args.boxes_dir))
        # every file read now, not at hour five
        (train_set, val_set), bad_data = datasets.check_all([train_set, val_set], args.skip_bad_data,
                                                            '--skip-bad-data leaves them out')
        val_sets = [val_set]
        if not len(train_set):
            raise errors.DataError('no training pair reads (%d left out)' % len(bad_data))
    num_classes = args.num_classes or train_set.num_classes
    if train_set.num_classes != num_classes:
        raise errors.ConfigError('--num-classes %d does not fit dataset %s (%d classes)'
                         % (num_classes, args.dataset, train_set.num_classes))
    if args.keep_best and not len(val_set):
        raise errors.ConfigError('--keep-best %s: no validation images to choose by' % args.keep_best)
    to_paint = samples_to_paint(args.dataset, data_dir, val_set)
    supervision = args.supervision
    boxes = None
    if supervision in weak.SUPERVISIONS[1:]:    # from boxes; image-labels reads the masks' classes in the loss
        try:
            train_set, boxes = weak.weak_dataset(train_set, supervision, args.weak_cache, args.boxes_dir,
                                                 {'min_box_pixels': args.min_box_pixels},
                                                 refine=crf.scaled_dense_crf)
        except (weak.BoxError, arrays.DataError) as e:
            raise errors.ConfigError('--supervision %s: %s' % (supervision, e))
    print('Training on %s, validating on %s' % (
        ' + '.join('%s (%d images)' % source for source in train_set.sources or [(train_set.name, len(train_set))]),
        ' + '.join('%s (%d images)' % (v.name, len(v)) for v in val_sets)))
    class_weights = None
    if args.class_balance == 'median-frequency':
        class_weights = arrays.median_frequency_weights(
            (arrays.resize_label(train_set.read_label(label), image_shape) for _, label in train_set.pairs),
            num_classes)
        print('Class weights (median frequency): %s' % ', '.join(
            '%s %.2f' % (n, w) for n, w in zip(train_set.class_names, class_weights)))
    return TrainingData(train=train_set, val=val_set, val_sets=val_sets, boxes=boxes, num_classes=num_classes,
                        class_weights=class_weights, bad=bad_data, to_paint=to_paint)
