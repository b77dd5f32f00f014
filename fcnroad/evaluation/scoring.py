"""Scoring a model on a dataset: each image seen at the training height and its own aspect ratio
(arrays.network_shape), probabilities resized back to each label's own size (as the KITTI benchmark
scores full-size images), optional test-time augmentation and CRF, counts pooled over the split;
a run on several datasets is scored on each, and its headline is their mean."""
import time

import numpy as np

from fcnroad import console
from fcnroad.data import arrays
from fcnroad.evaluation import metrics

EVAL_BATCH = 8


def predict(sess, tensors, images):
    """Softmax probabilities (N, H, W, C) for a batch of float RGB 0..255 images."""
    return sess.run(tensors['probabilities'], {tensors['image_input']: images, tensors['keep_prob']: 1.0})


def scaled_shape(image_shape, scale):
    """The training shape times scale, rounded to the multiples of 32 the network needs."""
    return tuple(max(32, int(s * scale / 32 + 0.5) * 32) for s in image_shape)


def tta_probabilities(sess, tensors, images, image_shape, target_shapes, flip=False, scales=(1.0,)):
    """Probabilities of uint8 images, each at its target shape, averaged over scales and flips.

    The network sees each image at network_shape(image, training shape times scale): the
    training height (times scale), its own aspect ratio; images that come to the same shape
    run as one batch.  Test-time augmentation: every scale, and mirrored too with flip; each
    map is resized back to the target shape (bilinear) and the maps are averaged.
    """
    totals = [0.0] * len(images)
    run = lambda batch: predict(sess, tensors, batch)     # noqa: E731
    for scale in scales:
        shape = scaled_shape(image_shape, scale)
        groups = {}
        for i, image in enumerate(images):
            groups.setdefault(arrays.network_shape(image.shape, shape), []).append(i)
        for network_shape, members in groups.items():
            batch = np.stack([arrays.resize_image(images[i], network_shape) for i in members]).astype(np.float32)
            probs = flip_averaged(run, batch) if flip else run(batch)
            for i, p in zip(members, probs):
                totals[i] = totals[i] + arrays.resize_probabilities(p, target_shapes[i])
    return [t / len(scales) for t in totals]


def flip_averaged(run, batch):
    """Test-time flip, the one rule every runtime follows: run(batch) -> (N, H, W, C) maps, averaged with the
    mirrored batch's maps mirrored back."""
    mirrored = run(np.ascontiguousarray(batch[:, :, ::-1]))[:, :, ::-1]
    return (run(batch) + mirrored) / 2


def refine(images, probabilities):
    """Each image's probabilities through the dense CRF (fcnroad/evaluation/crf.py), the image resized to them."""
    from fcnroad.evaluation import crf
    return [crf.dense_crf(im if im.shape[:2] == p.shape[:2] else arrays.resize_image(im, p.shape[:2]), p)
            for im, p in zip(images, probabilities)]


def evaluate(sess, tensors, dataset, image_shape, batch_size=EVAL_BATCH, flip=False, scales=(1.0,), crf=False,
             on_image=None, road=None, threshold=metrics.DECISION):
    """Metrics of a model on a dataset, counts pooled over all its images.

    flip, scales: see tta_probabilities; crf: refine each map with the dense CRF.
    on_image, road, threshold: see score_probabilities.
    """
    def probabilities(images, target_shapes):
        probs = tta_probabilities(sess, tensors, images, image_shape, target_shapes, flip, scales)
        return refine(images, probs) if crf else probs

    results = score_probabilities(probabilities, dataset, batch_size, on_image, road, threshold)
    results.update({'test_time_augmentation': {'flip': flip, 'scales': list(scales)}, 'crf': crf})
    return results


def evaluate_sources(sess, tensors, datasets_, image_shape, **options):
    """evaluate() on each dataset of a run (one per source); one dataset: its results, several: mean_of()."""
    results = [dict(evaluate(sess, tensors, dataset, image_shape, **options), dataset=dataset.name)
               for dataset in datasets_]
    return results[0] if len(results) == 1 else mean_of(results)


# The scores a run on several datasets reports as the mean of its datasets' (the headline).
MEAN_SCORES = {'road': ('iou', 'precision', 'recall'), 'kitti': ('MaxF', 'AP', 'PRE', 'REC', 'FPR', 'FNR'),
               None: ('mean_iou', 'pixel_accuracy', 'class_average_accuracy')}


def mean_of(results):
    """The results of several datasets as one: each dataset's under 'sources', the headline scores (MEAN_SCORES)
    their mean, the counts and the confusion matrix their sums."""
    first = results[0]
    combined = {'dataset': ' + '.join(r['dataset'] for r in results), 'sources': {r['dataset']: r for r in results},
                'images': sum(r['images'] for r in results), 'class_names': first['class_names'],
                'confusion_matrix': np.sum([r['confusion_matrix'] for r in results], axis=0).tolist(),
                'seconds': round(sum(r['seconds'] for r in results), 2),
                'test_time_augmentation': first.get('test_time_augmentation'), 'crf': first.get('crf')}
    combined['images_per_second'] = round(combined['images'] / combined['seconds'], 3) if combined['seconds'] else None
    combined['per_class_iou'] = np.nanmean([r['per_class_iou'] for r in results], axis=0).tolist()
    for group, names in MEAN_SCORES.items():
        if group is None:
            combined.update({n: float(np.mean([r[n] for r in results])) for n in names})
        elif all(group in r for r in results):
            combined[group] = {n: float(np.mean([r[group][n] for r in results])) for n in names}
    return combined


def score_probabilities(probabilities, dataset, batch_size=EVAL_BATCH, on_image=None, road=None,
                        threshold=metrics.DECISION, decided=False):
    """Metrics of any predictor on a dataset: probabilities(uint8 images, label shapes) gives one
    (H, W, C) map per image at its label's shape; counts are pooled over all images.

    on_image(pair, image, label, probabilities, classes, image_cm) sees each image with what was
    counted for it; road: the metrics.RoadEvaluation a road model's histograms pool into (default
    a new one), for a caller that wants its curve; threshold: a road model's decision (the IoU, precision
    and recall are counted at it; MaxF and AP look at every threshold); decided: probabilities() gives
    (map, class map) pairs, a predictor's own decision, counted instead of the threshold's.
    """
    num_classes, positive = dataset.num_classes, dataset.positive
    cm = np.zeros((num_classes, num_classes), np.int64)
    if positive is None:
        road = None
    elif road is None:
        road = metrics.RoadEvaluation()
    start_time = time.time()
    for start in range(0, len(dataset), batch_size):
        pairs = dataset.pairs[start:start + batch_size]
        images = [arrays.read_png(image) for image, _ in pairs]
        labels = [dataset.read_label(label_path) for _, label_path in pairs]
        probs = probabilities(images, [lb.shape for lb in labels])
        decisions = [c for _, c in probs] if decided else [None] * len(probs)
        probs = [p for p, _ in probs] if decided else probs
        for pair, image, label, p, decision in zip(pairs, images, labels, probs, decisions):
            classes = metrics.classes_from_probabilities(p, positive, threshold) if decision is None else decision
            image_cm = metrics.confusion_matrix(label, classes, num_classes)
            if road is not None:
                road.add(p[..., positive], label)
            if on_image is not None:
                on_image(pair, image, label, p, classes, image_cm)
            cm += image_cm
    seconds = time.time() - start_time
    results = {'images': len(dataset), 'class_names': list(dataset.class_names), 'confusion_matrix': cm.tolist(),
               'threshold': threshold if positive is not None else None,
               'seconds': round(seconds, 2), 'images_per_second': round(len(dataset) / seconds, 3) if seconds else None}
    results.update(metrics.scores_from_confusion(cm))
    if road is not None:
        results['road'] = metrics.binary_scores(cm, positive)
        results['kitti'] = road.scores()
    return results


def format_table(results):
    """A short plain-text table of the results (several datasets: each one's, then their mean)."""
    if 'sources' in results:
        return '\n'.join([format_table(r) for r in results['sources'].values()]
                         + ['Mean of the %d datasets' % len(results['sources'])]
                         + format_scores(results, per_class=False))
    lines = ['Evaluation on %s (%d images%s)' % (results.get('dataset', '?'), results['images'],
                                                 ', %.2f images/s' % results['images_per_second']
                                                 if results.get('images_per_second') else '')]
    return '\n'.join(lines + format_scores(results))


def format_scores(results, per_class=True):
    lines = []
    if 'road' in results:
        r, k = results['road'], results['kitti']
        at = '' if results.get('threshold') in (None, metrics.DECISION) else ' (at %g)' % results['threshold']
        lines += ['  road IoU %.4f  precision %.4f  recall %.4f%s' % (r['iou'], r['precision'], r['recall'], at),
                  '  KITTI  MaxF %.2f  AP %.2f  PRE %.2f  REC %.2f  FPR %.2f  FNR %.2f' % tuple(
                      100 * k[n] for n in ('MaxF', 'AP', 'PRE', 'REC', 'FPR', 'FNR'))
                  + ('  (threshold %.3f)' % k['threshold'] if 'threshold' in k else '')]
    lines.append('  mean IoU %.4f  pixel accuracy %.4f  class-average accuracy %.4f'
                 % (results['mean_iou'], results['pixel_accuracy'], results['class_average_accuracy']))
    width = max(len(n) for n in results['class_names'])
    for name, iou in zip(results['class_names'], results['per_class_iou']) if per_class else ():
        lines.append('    %-*s IoU %s' % (width, name, 'n/a' if iou != iou else '%.4f' % iou))
    return lines


def add_test_time_options(parser):
    """--flip, --scales, --crf, --threshold: the test-time options evaluate.py and predict.py share."""
    parser.add_argument('--flip', action='store_true', help='test-time augmentation: average with the mirrored image')
    parser.add_argument('--scales', type=console.Range(float, 0, 4, low_open=True), nargs='+', default=[1.0],
                        help='test-time augmentation: average over these multiples of the training size')
    parser.add_argument('--crf', action='store_true', help='refine each map with the fully connected CRF')
    add_threshold_option(parser)


def add_threshold_option(parser):
    parser.add_argument('--threshold', type=console.Range(float, 0, 1, low_open=True, high_open=True),
                        default=metrics.DECISION, metavar='T',
                        help="a road model's decision: road where its probability passes T")
