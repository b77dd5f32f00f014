"""Segmentation quality from accumulated counts, never averaged per image.

Binary road: IoU/precision/recall at the decision (DECISION, 0.5), and the KITTI Road
devkit's pixel evaluation (evaluateRoad.py): thresholds 0..255/255 on the road
probability, TP/FP/FN pooled over the set, MaxF, 11-point PASCAL AP, and
PRE/REC/FPR/FNR at the MaxF threshold.  Multi-class: confusion matrix,
per-class IoU, mean IoU, global and class-average accuracy, with an ignore label.
"""
import numpy as np

from fcnroad.data.arrays import IGNORE

NUM_THRESHOLDS = 256  # the devkit's thresholds k/255, k = 0..255
# The decision of a road model: road where its probability passes this (KITTI's devkit decides so);
# --threshold sets another.  saved_model.classes_from is the same rule in the graph.
DECISION = 0.5


def classes_from_probabilities(probs, positive=None, threshold=DECISION):
    """Class map from (..., C) probabilities: the positive class (road) where its probability passes the
    threshold; without a positive class, the most probable class."""
    probs = np.asarray(probs)
    if positive is not None:
        return (probs[..., positive] > threshold).astype(np.uint8)
    return probs.argmax(-1).astype(np.uint8)


def confusion_matrix(labels, predictions, num_classes, ignore=IGNORE):
    """cm[true, predicted] pixel counts; pixels labelled `ignore` are left out."""
    labels = np.asarray(labels).ravel()
    predictions = np.asarray(predictions).ravel()
    keep = labels != ignore
    labels, predictions = labels[keep].astype(np.int64), predictions[keep].astype(np.int64)
    if labels.size and (labels.max() >= num_classes or predictions.max() >= num_classes):
        raise ValueError('class index out of range 0..%d' % (num_classes - 1))
    return np.bincount(labels * num_classes + predictions,
                       minlength=num_classes ** 2).reshape(num_classes, num_classes)


def scores_from_confusion(cm):
    """Per-class IoU (nan for a class neither labelled nor predicted) and the summaries."""
    cm = np.asarray(cm, np.float64)
    tp = np.diag(cm)
    labelled = cm.sum(1)
    predicted = cm.sum(0)
    union = labelled + predicted - tp
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = np.where(union > 0, tp / union, np.nan)
        class_acc = np.where(labelled > 0, tp / labelled, np.nan)
    total = cm.sum()
    return {
        'per_class_iou': iou.tolist(),
        'mean_iou': float(np.nanmean(iou)) if np.isfinite(iou).any() else float('nan'),
        'pixel_accuracy': float(tp.sum() / total) if total else float('nan'),
        'class_average_accuracy': float(np.nanmean(class_acc)) if np.isfinite(class_acc).any() else float('nan'),
    }


def binary_counts(cm, positive):
    """(true positives, false positives, false negatives) of the positive class in cm[true, predicted]."""
    cm = np.asarray(cm)
    tp = cm[positive, positive]
    return tp, cm[:, positive].sum() - tp, cm[positive, :].sum() - tp


def binary_scores(cm, positive):
    """IoU, precision and recall of the positive class (road) from a confusion matrix cm[true, predicted]."""
    tp, fp, fn = (float(count) for count in binary_counts(cm, positive))
    nan = float('nan')
    return {
        'iou': tp / (tp + fp + fn) if tp + fp + fn else nan,
        'precision': tp / (tp + fp) if tp + fp else nan,
        'recall': tp / (tp + fn) if tp + fn else nan,
    }


def quantize(probability):
    """Road probability as the uint8 the benchmark's PNG submissions hold."""
    return np.clip(np.round(np.asarray(probability, np.float64) * 255), 0, 255).astype(np.uint8)


class RoadEvaluation:
    """KITTI devkit pixel evaluation, pooled over every image added."""

    def __init__(self):
        self.positive_hist = np.zeros(NUM_THRESHOLDS, np.int64)
        self.negative_hist = np.zeros(NUM_THRESHOLDS, np.int64)

    def add(self, road_probability, label, ignore=IGNORE):
        """label: 1 road, 0 not road, `ignore` outside the valid area."""
        q = quantize(road_probability).ravel()
        label = np.asarray(label).ravel()
        self.positive_hist += np.bincount(q[label == 1], minlength=NUM_THRESHOLDS)
        self.negative_hist += np.bincount(q[label == 0], minlength=NUM_THRESHOLDS)

    def counts(self):
        """TP, FP, FN, TN at each threshold k/255: road is predicted where q >= k."""
        pos, neg = self.positive_hist.sum(), self.negative_hist.sum()
        fn = np.concatenate(([0], np.cumsum(self.positive_hist)[:-1]))
        fp = neg - np.concatenate(([0], np.cumsum(self.negative_hist)[:-1]))
        return pos - fn, fp, fn, neg - fp

    def curve(self):
        """{recall, precision, tp, fp, fn, tn, thresholds}: the devkit's precision-recall curve, one point a threshold."""
        tp, fp, fn, tn = (c.astype(np.float64) for c in self.counts())
        pos, neg = tp[0] + fn[0], fp[0] + tn[0]
        if pos == 0 or neg == 0:
            raise ValueError('KITTI evaluation needs both road and non-road pixels (got %d and %d)'
                             % (pos, neg))
        recall = tp / pos
        precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=tp + fp > 0)
        keep = ~((recall == 0) & (precision == 0))  # the devkit drops these points
        thresholds = np.arange(NUM_THRESHOLDS) / 255.0
        names = ('recall', 'precision', 'tp', 'fp', 'fn', 'tn', 'thresholds')
        return {n: a[keep] for n, a in zip(names, (recall, precision, tp, fp, fn, tn, thresholds))}

    def scores(self):
        c = self.curve()
        recall, precision, fp, fn, thresholds = c['recall'], c['precision'], c['fp'], c['fn'], c['thresholds']
        pos, neg = c['tp'][0] + c['fn'][0], c['fp'][0] + c['tn'][0]
        ap = np.mean([precision[recall >= r].max() if (recall >= r).any() else 0.0
                      for r in np.arange(0, 1.1, 0.1)])  # the devkit's 11 points
        f = np.divide(2 * precision * recall, precision + recall,
                      out=np.zeros_like(precision), where=precision + recall > 0)
        best = int(f.argmax())
        return {
            'MaxF': float(f[best]),
            'AP': float(ap),
            'PRE': float(precision[best]),
            'REC': float(recall[best]),
            'FPR': float(fp[best] / neg),
            'FNR': float(fn[best] / pos),
            'threshold': float(thresholds[best]),
        }
