"""Score a trained FCN-8 on a dataset split and print the metrics table.

    python evaluate.py --model runs/<run>/model --data-dir ../shared/data --dataset camvid_road --split val

Predictions are made at the training resolution, and the probabilities are
resized back to each label's own resolution before counting, as the KITTI
benchmark scores full-size images.
"""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import datasets  # noqa: E402
import export  # noqa: E402
from export import load_model  # noqa: E402  (evaluate.load_model, as before)
import metrics  # noqa: E402

EVAL_BATCH = 8


def predict(sess, tensors, images):
    """Softmax probabilities (N, H, W, C) for a batch of float RGB 0..255 images."""
    return sess.run(tensors['probabilities'], {tensors['image_input']: images, tensors['keep_prob']: 1.0})


def scaled_shape(image_shape, scale):
    """The training shape times scale, rounded to the multiples of 32 the network needs."""
    return tuple(max(32, int(s * scale / 32 + 0.5) * 32) for s in image_shape)


def tta_probabilities(sess, tensors, images, image_shape, target_shapes, flip=False, scales=(1.0,)):
    """Probabilities of uint8 images, each at its target shape, averaged over scales and flips.

    Test-time augmentation: the network sees every image at each scale of the
    training shape, and mirrored too with flip; each map is resized back to
    the target shape (bilinear) and the maps are averaged.
    """
    totals = [0.0] * len(images)
    count = 0
    for scale in scales:
        shape = scaled_shape(image_shape, scale)
        batch = np.stack([datasets.resize_image(im, shape) for im in images]).astype(np.float32)
        for mirrored in (False, True) if flip else (False,):
            probs = predict(sess, tensors, batch[:, :, ::-1] if mirrored else batch)
            if mirrored:
                probs = probs[:, :, ::-1]
            for i, (p, target) in enumerate(zip(probs, target_shapes)):
                totals[i] = totals[i] + datasets.resize_probabilities(p, target)
            count += 1
    return [t / count for t in totals]


def refine(images, probabilities):
    """Each image's probabilities through the dense CRF (crf.py), the image resized to them."""
    import crf
    return [crf.dense_crf(im if im.shape[:2] == p.shape[:2] else datasets.resize_image(im, p.shape[:2]), p)
            for im, p in zip(images, probabilities)]


def evaluate(sess, tensors, dataset, image_shape, batch_size=EVAL_BATCH, flip=False, scales=(1.0,), crf=False):
    """Metrics of a model on a dataset, counts pooled over all its images (flip, scales: see tta_probabilities;
    crf: refine each map with the dense CRF)."""
    num_classes = dataset.num_classes
    cm = np.zeros((num_classes, num_classes), np.int64)
    road = metrics.RoadEvaluation() if num_classes == 2 else None
    start_time = time.time()
    for start in range(0, len(dataset), batch_size):
        pairs = dataset.pairs[start:start + batch_size]
        images = [datasets.read_png(image) for image, _ in pairs]
        labels = [dataset.read_label(label_path) for _, label_path in pairs]
        probs = tta_probabilities(sess, tensors, images, image_shape, [lb.shape for lb in labels], flip, scales)
        if crf:
            probs = refine(images, probs)
        for label, p in zip(labels, probs):
            if road is not None:
                road.add(p[..., 1], label)
            cm += metrics.confusion_matrix(label, metrics.classes_from_probabilities(p), num_classes)
    seconds = time.time() - start_time
    results = {'images': len(dataset), 'class_names': list(dataset.class_names),
               'confusion_matrix': cm.tolist(), 'test_time_augmentation': {'flip': flip, 'scales': list(scales)}, 'crf': crf,
               'seconds': round(seconds, 2), 'images_per_second': round(len(dataset) / seconds, 3) if seconds else None}
    results.update(metrics.scores_from_confusion(cm))
    if road is not None:
        results['road'] = metrics.binary_scores(cm)
        results['kitti'] = road.scores()
    return results


def format_table(results):
    """A short plain-text table of the results."""
    lines = ['Evaluation on %s (%d images%s)' % (results.get('dataset', '?'), results['images'],
                                                 ', %.2f images/s' % results['images_per_second']
                                                 if results.get('images_per_second') else '')]
    if 'road' in results:
        r, k = results['road'], results['kitti']
        lines += ['  road IoU %.4f  precision %.4f  recall %.4f' % (r['iou'], r['precision'], r['recall']),
                  '  KITTI  MaxF %.2f  AP %.2f  PRE %.2f  REC %.2f  FPR %.2f  FNR %.2f  (threshold %.3f)'
                  % tuple([100 * k[n] for n in ('MaxF', 'AP', 'PRE', 'REC', 'FPR', 'FNR')] + [k['threshold']])]
    lines.append('  mean IoU %.4f  pixel accuracy %.4f  class-average accuracy %.4f'
                 % (results['mean_iou'], results['pixel_accuracy'], results['class_average_accuracy']))
    width = max(len(n) for n in results['class_names'])
    for name, iou in zip(results['class_names'], results['per_class_iou']):
        lines.append('    %-*s IoU %s' % (width, name, 'n/a' if iou != iou else '%.4f' % iou))
    return '\n'.join(lines)


def main(argv=None):
    import tensorflow.compat.v1 as tf
    tf.get_logger().setLevel('ERROR')   # disable_v2_behavior's deprecation notice is noise
    tf.disable_v2_behavior()
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', required=True, help='runs/<run>/model folder written by main.py')
    p.add_argument('--data-dir', required=True, help='the folder main.py --data-dir was given')
    p.add_argument('--dataset', help="default: the model's training dataset")
    p.add_argument('--split', default='val', choices=('train', 'val', 'test'),
                   help="test: CamVid in SegNet's layout (test/, testannot/) or a folder dataset with test/")
    p.add_argument('--val-fraction', type=float, help="KITTI hold-out share; default: the model's")
    p.add_argument('--holdout-sequence', help="CamVid sequence held out; default: the model's")
    p.add_argument('--output', help='also write the metrics as JSON here')
    p.add_argument('--flip', action='store_true', help='test-time augmentation: average with the mirrored image')
    p.add_argument('--scales', type=float, nargs='+', default=[1.0],
                   help='test-time augmentation: average over these multiples of the training size')
    p.add_argument('--crf', action='store_true', help='refine each map with the fully connected CRF (crf.py)')
    p.add_argument('--strict', action='store_true',
                   help='stop at the first pair that does not read (default: warn, score the rest, exit 1)')
    args = p.parse_args(argv)
    with tf.Graph().as_default(), tf.Session() as sess:
        tensors, run_config = load_model(sess, args.model)
        print(export.describe(run_config))
        dataset_kind = args.dataset or run_config['dataset']
        val_fraction = args.val_fraction if args.val_fraction is not None else \
            run_config['args'].get('val_fraction', 0.0)
        try:
            if args.split == 'test':
                dataset = datasets.load_test(dataset_kind, args.data_dir)
            else:
                holdout = args.holdout_sequence or run_config['args'].get('holdout_sequence') \
                    if dataset_kind in ('camvid', 'camvid_road') else None
                train, val = datasets.load(dataset_kind, args.data_dir, val_fraction, holdout_sequence=holdout,
                                           unlabelled_ok=args.split == 'val')   # box-only images train only
                dataset = train if args.split == 'train' else val
        except datasets.DataError as e:
            raise SystemExit('data error: %s' % e)
        bad = datasets.check(dataset)
        if bad and args.strict:
            raise SystemExit('data error: %s' % bad[0][1])
        for _, message in bad:
            print('WARNING: skipped: %s' % message, file=sys.stderr)
        dataset = datasets.without(dataset, [pair for pair, _ in bad])
        if not len(dataset):
            raise SystemExit('data error: no pair of %s reads' % dataset.name)
        if dataset.num_classes != run_config['num_classes']:
            raise SystemExit('model has %d classes, dataset %s has %d'
                             % (run_config['num_classes'], dataset.name, dataset.num_classes))
        results = evaluate(sess, tensors, dataset, tuple(run_config['image_shape']), flip=args.flip,
                           scales=tuple(args.scales), crf=args.crf)
    results['dataset'] = dataset.name
    print(format_table(results))
    results['skipped_data'] = [dict(image=p[0], label=p[1], error=m) for p, m in bad]
    if args.output:
        with open(args.output, 'w') as f:
            json.dump(results, f, indent=2)
    if bad:
        raise SystemExit('%d pairs scored, %d skipped (unreadable): %s' % (
            len(dataset), len(bad), ', '.join(label or image for (image, label), _ in bad)))
    return results


if __name__ == '__main__':
    main(sys.argv[1:])
