"""How good and how cheap are labels made from boxes: counts, agreement with the masks, time.

    python -m benchmarks.weak --dataset camvid_road --data-dir ../shared/data --holdout-sequence 0001TP

On the training split of a dataset it derives the boxes from the masks (weak.boxes_from_mask)
and prints: images, boxes (what a labeller would draw instead of masks), and for each box
supervision the share of pixels it labels, the share of those that agree with the mask, the
per-class IoU of the labels against the masks, and seconds per image to make them.
"""
import os
import sys

if __package__ in (None, ''):   # run by path (python benchmarks/x.py): the project's root, not benchmarks/, first
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import time

import numpy as np

from fcnroad import cli, console
from fcnroad.data import arrays, registry
from fcnroad.evaluation import crf, metrics
from fcnroad.data import weak


def build_parser():
    p = console.Parser(description=__doc__.split('\n\n')[0])
    p.add_argument('--dataset', default='camvid_road', choices=registry.DATASETS)
    p.add_argument('--data-dir', required=True, type=console.Path('folder'))
    p.add_argument('--holdout-sequence')
    p.add_argument('--limit', type=console.Range(int, 1), help='only the first N training images')
    p.add_argument('--min-box-pixels', type=console.Range(int, 1), default=weak.DEFAULTS['min_box_pixels'])
    p.add_argument('--labels', nargs='+', default=['boxes', 'boxes-grabcut', 'boxes-crf'],
                   choices=['boxes', 'boxes-grabcut', 'boxes-crf'], help='which labels to make and rate')
    return p


def main(argv=None):
    with cli.errors_as_exit():
        args = build_parser().parse_args(argv)
    train, _ = registry.load(args.dataset, args.data_dir, holdout_sequence=args.holdout_sequence)
    pairs = train.pairs[:args.limit] if args.limit else train.pairs
    masks = [train.read_label(label) for _, label in pairs]
    images = [arrays.read_png(image) for image, _ in pairs]
    boxes = [weak.boxes_from_mask(m, train.num_classes, args.min_box_pixels) for m in masks]
    print('%s: %d training images, %d boxes (%.1f per image) from the masks, components under %d px dropped'
          % (train.name, len(pairs), sum(map(len, boxes)), sum(map(len, boxes)) / float(len(pairs)),
             args.min_box_pixels))
    makers = {'boxes': lambda im, b: weak.box_label(b, im.shape[:2]),
              'boxes-grabcut': lambda im, b: weak.grabcut_label(im, b),
              'boxes-crf': lambda im, b: weak.crf_label(im, b, train.num_classes, crf.scaled_dense_crf)}
    print('| labels | pixels labelled | agreeing with the mask | mean IoU vs mask (labelled pixels) | %s IoU | s per image |'
          % train.class_names[-1])
    print('|---|---|---|---|---|---|')
    for name, make in ((n, makers[n]) for n in args.labels):
        start = time.time()
        labels = [make(im, b) for im, b in zip(images, boxes)]
        seconds = (time.time() - start) / len(labels)
        cm = np.zeros((train.num_classes,) * 2, np.int64)
        labelled = evaluated = 0
        for mask, label in zip(masks, labels):
            valid = mask != arrays.IGNORE
            evaluated += valid.sum()
            labelled += (valid & (label != arrays.IGNORE)).sum()
            cm += metrics.confusion_matrix(np.where(label == arrays.IGNORE, arrays.IGNORE, mask), label,
                                           train.num_classes)
        scores = metrics.scores_from_confusion(cm)
        print('| %s | %.1f%% | %.1f%% | %.4f | %.4f | %.3f |' % (
            name, 100.0 * labelled / evaluated, 100.0 * np.trace(cm) / cm.sum(), scores['mean_iou'],
            scores['per_class_iou'][-1], seconds), flush=True)


if __name__ == '__main__':
    main()
