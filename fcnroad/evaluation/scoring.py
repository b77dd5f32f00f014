"""Scoring a model on a dataset: predictions at the training size, probabilities resized back
to each label's own size (as the KITTI benchmark scores full-size images), optional test-time
augmentation and CRF, counts pooled over the split."""
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

    Test-time augmentation: the network sees every image at each scale of the
    training shape, and mirrored too with flip; each map is resized back to
    the target shape (bilinear) and the maps are averaged.
    """
    totals = [0.0] * len(images)
    count = 0
    for scale in scales:
        shape = scaled_shape(image_shape, scale)
        batch = np.stack([arrays.resize_image(im, shape) for im in images]).astype(np.float32)
        for mirrored in (False, True) if flip else (False,):
            probs = predict(sess, tensors, batch[:, :, ::-1] if mirrored else batch)
            if mirrored:
                probs = probs[:, :, ::-1]
            for i, (p, target) in enumerate(zip(probs, target_shapes)):
                totals[i] = totals[i] + arrays.resize_probabilities(p, target)
            count += 1
    return [t / count for t in totals]


def refine(images, probabilities):
    """Each image's probabilities through the dense CRF (fcnroad/evaluation/crf.py), the image resized to them."""
    from fcnroad.evaluation import crf
    return [crf.dense_crf(im if im.shape[:2] == p.shape[:2] else arrays.resize_image(im, p.shape[:2]), p)
            for im, p in zip(images, probabilities)]


def evaluate(sess, tensors, dataset, image_shape, batch_size=EVAL_BATCH, flip=False, scales=(1.0,), crf=False,
             on_image=None, road=None):
    """Metrics of a model on a dataset, counts pooled over all its images.

    flip, scales: see tta_probabilities; crf: refine each map with the dense CRF.
    on_image, road: see score_probabilities.
    """
    def probabilities(images, target_shapes):
        probs = tta_probabilities(sess, tensors, images, image_shape, target_shapes, flip, scales)
        return refine(images, probs) if crf else probs

    results = score_probabilities(probabilities, dataset, batch_size, on_image, road)
    results.update({'test_time_augmentation': {'flip': flip, 'scales': list(scales)}, 'crf': crf})
    return results


def score_probabilities(probabilities, dataset, batch_size=EVAL_BATCH, on_image=None, road=None):
    """Metrics of any predictor on a dataset: probabilities(uint8 images, label shapes) gives one
    (H, W, C) map per image at its label's shape; counts are pooled over all images.

    on_image(pair, image, label, probabilities, classes, image_cm) sees each image with what was
    counted for it; road: the metrics.RoadEvaluation a road model's histograms pool into (default
    a new one), for a caller that wants its curve.
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
        for pair, image, label, p in zip(pairs, images, labels, probs):
            classes = metrics.classes_from_probabilities(p, positive)
            image_cm = metrics.confusion_matrix(label, classes, num_classes)
            if road is not None:
                road.add(p[..., positive], label)
            if on_image is not None:
                on_image(pair, image, label, p, classes, image_cm)
            cm += image_cm
    seconds = time.time() - start_time
    results = {'images': len(dataset), 'class_names': list(dataset.class_names), 'confusion_matrix': cm.tolist(),
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




def add_test_time_options(parser):
    """--flip, --scales, --crf: the test-time options evaluate.py and predict.py share."""
    parser.add_argument('--flip', action='store_true', help='test-time augmentation: average with the mirrored image')
    parser.add_argument('--scales', type=console.Range(float, 0, 4, low_open=True), nargs='+', default=[1.0],
                        help='test-time augmentation: average over these multiples of the training size')
    parser.add_argument('--crf', action='store_true', help='refine each map with the fully connected CRF')
