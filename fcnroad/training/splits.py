"""A training run's data: both splits read before the first step, and the images a run paints."""
import os
import sys

from fcnroad.data import datasets


def check_data(train_set, val_set, skip_bad):
    """Every pair of both splits read before the first step: a bad file stops the run now, not at hour five.

    With skip_bad the bad pairs are left out, each named in a warning; returns (train, val, [(pair, error)]).
    """
    bad = datasets.check(train_set) + datasets.check(val_set)
    if bad and not skip_bad:
        raise SystemExit('data error: %s%s' % (bad[0][1], ' (and %d more files that do not read; --skip-bad-data '
                                                           'leaves them out)' % (len(bad) - 1) if len(bad) > 1 else ''))
    for _, message in bad:
        print('WARNING: --skip-bad-data: left out: %s' % message, file=sys.stderr)
    pairs = [pair for pair, _ in bad]
    train_set, val_set = datasets.without(train_set, pairs), datasets.without(val_set, pairs)
    if not len(train_set):
        raise SystemExit('data error: no training pair reads (%d left out)' % len(bad))
    return train_set, val_set, bad


def samples_to_paint(dataset, data_dir, val_set):
    """KITTI's test images; the validation images where there is no testing/ (or another dataset)."""
    if dataset != 'kitti':
        return [image for image, _ in val_set.pairs]
    test_dir = os.path.join(data_dir, 'data_road', 'testing', 'image_2')
    if os.path.isdir(test_dir) and datasets.list_images(test_dir):
        return datasets.kitti_test_images(os.path.join(data_dir, 'data_road'))
    print('%s: no test images; the %d validation images are painted instead' % (test_dir, len(val_set)))
    return [image for image, _ in val_set.pairs]
