"""An evaluation report to look at: every image's scores, the worst images as panels, the curve, one page.

evaluate.py --report DIR writes DIR/ with
  per_image.csv    each image's counts and scores (road: IoU, precision, recall, F; several
                   classes: mean IoU, pixel accuracy and each class's IoU), in the split's order;
  worst/NN_<name>.png  the worst N images (lowest road IoU or mean IoU) as panels at the
                   image's own size: image | ground truth | prediction | errors;
  pr_curve.png     road: the devkit's precision-recall curve over the split, MaxF marked;
  confusion.png    several classes: the confusion matrix, each row normalised;
  index.html       a page tying them together, no server and no external assets needed.
The folder is written as DIR.partial and renamed when complete.
"""
import csv
import heapq
import html
import os
import shutil

import numpy as np

from fcnroad import errors
from fcnroad.data import arrays
from fcnroad.evaluation import metrics, scoring
from fcnroad.serving import paint

WORST = 12
PANEL_GAP = 4                     # white pixels between the four pictures of a panel
FALSE_POSITIVE = (255, 0, 0)      # red: road (or a class) predicted where the label has another
FALSE_NEGATIVE = (0, 0, 255)      # blue: road the prediction missed (road models)
NOT_EVALUATED = (128, 128, 128)   # grey: pixels the label leaves out
CSV_NAME, PAGE_NAME, WORST_DIR = 'per_image.csv', 'index.html', 'worst'
CURVE_NAME, CONFUSION_NAME = 'pr_curve.png', 'confusion.png'


def image_scores(cm, class_names, positive=None):
    """One image's row of figures from its confusion matrix cm[true, predicted]."""
    cm = np.asarray(cm, np.int64)
    row = {'evaluated_pixels': int(cm.sum())}
    if positive is not None:
        tp, fp, fn = (int(count) for count in metrics.binary_counts(cm, positive))
        road = metrics.binary_scores(cm, positive)
        precision, recall = road['precision'], road['recall']
        row.update(road_pixels=tp + fn, predicted_road_pixels=tp + fp, tp=tp, fp=fp, fn=fn,
                   road_iou=road['iou'], precision=precision, recall=recall,
                   f=2 * precision * recall / (precision + recall) if precision + recall > 0 else float('nan'))
        return row
    scores = metrics.scores_from_confusion(cm)
    row.update(mean_iou=scores['mean_iou'], pixel_accuracy=scores['pixel_accuracy'])
    row.update({'iou_%s' % name: iou for name, iou in zip(class_names, scores['per_class_iou'])})
    return row


def rank_score(row):
    """What orders the worst images: road IoU, or mean IoU; an image with nothing to score is never worst."""
    value = row.get('road_iou', row.get('mean_iou'))
    return float('inf') if value != value else value


class ReportCollector:
    """scoring.evaluate's on_image: each image's row and the worst N kept with their maps; its road
    (a metrics.RoadEvaluation, given to scoring.evaluate as road=) gathers the split's curve."""

    def __init__(self, class_names, worst=WORST, positive=None):
        self.class_names = list(class_names)
        self.worst_count = worst
        self.rows = []
        self.worst = []    # heap of (-score, row index, image, label, classes): the N lowest scores
        self.positive = positive
        self.road = metrics.RoadEvaluation() if positive is not None else None

    def __call__(self, pair, image, label, probabilities, classes, image_cm):
        row = {'image': pair[0], 'label': pair[1]}
        row.update(image_scores(image_cm, self.class_names, self.positive))
        self.rows.append(row)
        score = rank_score(row)
        if self.worst_count and score != float('inf'):
            heapq.heappush(self.worst, (-score, len(self.rows) - 1, image, label, classes))
            if len(self.worst) > self.worst_count:
                heapq.heappop(self.worst)     # the highest score of those kept

    def worst_first(self):
        """[(row index, image, label, classes)], lowest score first (ties: the split's order)."""
        return [(i, image, label, classes) for _, i, image, label, classes in
                sorted(self.worst, key=lambda w: (-w[0], w[1]))]


def panel(image, label, classes, colours):
    """image | ground truth | prediction | errors, side by side at the image's own size."""
    ignored = label == arrays.IGNORE
    truth = paint.paint(image, np.where(ignored, 0, label), colours)
    truth[ignored] = NOT_EVALUATED
    marked = (image.astype(np.float32) * 0.5).astype(np.uint8)      # dimmed: the colours stand out
    wrong = (classes != label) & ~ignored
    if len(colours) == 1:     # road: which way each error goes
        marked[wrong & (classes == 1)] = FALSE_POSITIVE
        marked[wrong & (classes != 1)] = FALSE_NEGATIVE
    else:
        marked[wrong] = FALSE_POSITIVE
    marked[ignored] = NOT_EVALUATED
    gap = np.full((image.shape[0], PANEL_GAP, 3), 255, np.uint8)
    return np.concatenate([image, gap, truth, gap, paint.paint(image, classes, colours), gap, marked], axis=1)


def plot_curve(road, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    curve, scores = road.curve(), road.scores()
    figure, axes = plt.subplots(figsize=(5, 4.5), dpi=100)
    axes.plot(curve['recall'], curve['precision'], color='tab:green')
    axes.plot([scores['REC']], [scores['PRE']], 'o', color='tab:red',
              label='MaxF %.2f (threshold %.3f)' % (100 * scores['MaxF'], scores['threshold']))
    axes.set(xlabel='recall', ylabel='precision', xlim=(0, 1.01), ylim=(0, 1.01),
             title='road, pooled over the split (AP %.2f)' % (100 * scores['AP']))
    axes.grid(alpha=0.3)
    axes.legend(loc='lower left')
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def plot_confusion(cm, class_names, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cm = np.asarray(cm, np.float64)
    rows = np.divide(cm, cm.sum(1, keepdims=True), out=np.zeros_like(cm), where=cm.sum(1, keepdims=True) > 0)
    n = len(class_names)
    figure, axes = plt.subplots(figsize=(1.0 + 0.55 * n, 0.8 + 0.5 * n), dpi=100)
    shown = axes.imshow(rows, cmap='Blues', vmin=0, vmax=1)
    axes.set_xticks(range(n), class_names, rotation=60, ha='right')
    axes.set_yticks(range(n), class_names)
    axes.set(xlabel='predicted', ylabel='labelled', title='each row: where that class\'s pixels went')
    for t in range(n):
        for p in range(n):
            if rows[t, p] >= 0.01:
                axes.text(p, t, '%.2f' % rows[t, p], ha='center', va='center', fontsize=7,
                          color='white' if rows[t, p] > 0.5 else 'black')
    figure.colorbar(shown, ax=axes, fraction=0.046)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def fmt(value):
    return '' if value != value else ('%.4f' % value if isinstance(value, float) else str(value))


def write_report(out_dir, collector, results, colours, model=None):
    """Write the report folder (see the module's docstring) whole, or not at all; returns it."""
    if os.path.exists(out_dir) and not os.path.isfile(os.path.join(out_dir, CSV_NAME)):
        raise errors.ConfigError('--report %s: exists and is not a report of evaluate.py; give a new folder' % out_dir)
    staging = out_dir.rstrip(os.sep) + '.partial'
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(os.path.join(staging, WORST_DIR))
    try:
        columns = list(collector.rows[0]) if collector.rows else ['image', 'label']
        with open(os.path.join(staging, CSV_NAME), 'w', newline='') as f:
            writer = csv.DictWriter(f, columns)
            writer.writeheader()
            writer.writerows({k: fmt(v) for k, v in row.items()} for row in collector.rows)
        worst = []
        for rank, (index, image, label, classes) in enumerate(collector.worst_first(), 1):
            row = collector.rows[index]
            name = '%02d_%s.png' % (rank, os.path.splitext(os.path.basename(row['image']))[0])
            arrays.write_image(os.path.join(staging, WORST_DIR, name), panel(image, label, classes, colours))
            worst.append((rank, name, row))
        figure = None
        if collector.road is not None and collector.road.positive_hist.sum() and collector.road.negative_hist.sum():
            figure = CURVE_NAME
            plot_curve(collector.road, os.path.join(staging, CURVE_NAME))
        elif collector.road is None:
            figure = CONFUSION_NAME
            plot_confusion(results['confusion_matrix'], results['class_names'], os.path.join(staging, CONFUSION_NAME))
        with open(os.path.join(staging, PAGE_NAME), 'w') as f:
            f.write(page(results, worst, figure, model, collector.road is not None))
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)        # an earlier report of evaluate.py, replaced whole
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def page(results, worst, figure, model, road):
    """index.html: the summary table, the curve or confusion matrix, the worst panels with their figures."""
    e = html.escape
    score_name, keys = (('road IoU', ('road_iou', 'precision', 'recall', 'f')) if road else
                        ('mean IoU', ('mean_iou', 'pixel_accuracy')))
    parts = ['<!DOCTYPE html><html><head><meta charset="utf-8"><title>Evaluation report</title>',
             '<style>body{font-family:sans-serif;margin:2em;max-width:1400px}td,th{padding:2px 8px;text-align:left}'
             'img{max-width:100%}pre{background:#f4f4f4;padding:1em}.key span{padding:0 6px;color:white}</style>',
             '</head><body><h1>Evaluation report</h1>']
    if model:
        parts.append('<p>Model: <code>%s</code></p>' % e(model))
    parts.append('<h2>Summary</h2><pre>%s</pre>' % e(scoring.format_table(results)))
    parts.append('<p>Every image\'s figures: <a href="%s">%s</a>.</p>' % (CSV_NAME, CSV_NAME))
    if figure:
        parts.append('<h2>%s</h2><img src="%s" alt="%s">' % (
            'Precision and recall' if road else 'Confusion matrix', figure, figure))
    parts.append('<h2>The %d worst images by %s</h2>' % (len(worst), score_name))
    key = [(FALSE_POSITIVE, 'false positive' if road else 'wrong class')] + \
        ([(FALSE_NEGATIVE, 'false negative')] if road else []) + [(NOT_EVALUATED, 'not evaluated')]
    parts.append('<p class="key">Each panel: image | ground truth | prediction | errors: %s</p>' % ' '.join(
        '<span style="background:rgb%s">%s</span>' % (colour, name) for colour, name in key))
    for rank, name, row in worst:
        figures = ', '.join('%s %s' % (k.replace('_', ' '), fmt(row[k])) for k in keys)
        parts.append('<h3>%d. %s</h3><p>%s</p><img src="%s/%s" alt="%s">' % (
            rank, e(os.path.basename(row['image'])), e(figures), WORST_DIR, e(name), e(name)))
    parts.append('</body></html>\n')
    return '\n'.join(parts)
