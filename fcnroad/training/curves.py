"""Training curves a person looks at: TensorBoard event files and curves.png.

TensorBoard (`tensorboard --logdir runs/`) gets the training loss and learning
rate of every step, the mean loss of every epoch, the validation metrics of
every evaluation and a few painted validation images.  curves.png plots the
mean loss and the chosen validation metric per epoch.
"""
import io
import os

import numpy as np

TENSORBOARD_DIR = 'tensorboard'
CURVES_FILE = 'curves.png'
TRAIN_LOSS = 'train/loss'
TRAIN_LEARNING_RATE = 'train/learning_rate'
EPOCH_LOSS = 'train/epoch_mean_loss'
VAL_PREFIX = 'val/'
VAL_IMAGES = 'val/painted'
RAW_PREFIX = 'raw_weights/'   # with --ema: the weights' own metrics beside their average's
NUM_PAINTED = 3   # validation images painted into TensorBoard at each evaluation


def _png(image):
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, 'PNG')
    return buffer.getvalue()


class EventWriter:
    """Scalars and images for TensorBoard, written by tf.compat.v1's FileWriter (no graph ops)."""

    def __init__(self, folder):
        import tensorflow.compat.v1 as tf
        self.tf = tf
        with tf.Graph().as_default():   # the v1 writer refuses eager mode, and needs no graph of ours
            self.writer = tf.summary.FileWriter(folder)

    def scalars(self, step, values):
        self.writer.add_summary(self.tf.Summary(value=[
            self.tf.Summary.Value(tag=tag, simple_value=float(v)) for tag, v in values.items()]), step)

    def images(self, step, tag, images):
        self.writer.add_summary(self.tf.Summary(value=[
            self.tf.Summary.Value(tag='%s/%d' % (tag, i), image=self.tf.Summary.Image(
                encoded_image_string=_png(image), height=image.shape[0], width=image.shape[1], colorspace=3))
            for i, image in enumerate(images)]), step)

    def flush(self):
        self.writer.flush()

    def close(self):
        self.writer.close()


def plot(path, history, evaluations, metric=None):
    """curves.png: mean training loss per epoch and, where evaluated, the validation metric.

    Written under a temporary name and renamed.  Returns the plotted series
    {'loss': (epochs, values), metric: (epochs, values)}.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    series = {'loss': (list(range(1, len(history) + 1)), list(history))}
    if metric and evaluations:     # the metric, and each dataset's of a run on several
        names = [metric] + sorted({k for e in evaluations for k in e if k.endswith('/' + metric)})
        for name in names:
            points = [(e['epoch'], e[name]) for e in evaluations if name in e]
            series[name] = ([p[0] for p in points], [p[1] for p in points])
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.plot(*series['loss'], 'o-', color='tab:blue', label='mean training loss')
    ax.set_xlabel('epoch')
    ax.set_ylabel('loss', color='tab:blue')
    ax.grid(alpha=0.3)
    if metric in series:
        other = ax.twinx()
        for name, style in zip([k for k in series if k != 'loss'], ('s-', '^--', 'v--', 'D--', 'x--')):
            other.plot(*series[name], style, color='tab:green', alpha=1.0 if name == metric else 0.6,
                       label='validation ' + name)
        other.set_ylabel('validation ' + metric, color='tab:green')
        if len(series) > 2:
            other.legend(loc='lower right', fontsize='small')
    fig.tight_layout()
    tmp = os.path.join(os.path.dirname(path), '.' + os.path.basename(path) + '.tmp.png')
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
    return series


def val_metrics(results):
    """The scalar validation metrics of a scoring.evaluate() result, by name; a run on several datasets
    (scoring.mean_of) has their mean under each name and each dataset's as '<dataset>/<name>'."""
    values = {'mean_iou': results['mean_iou'], 'pixel_accuracy': results['pixel_accuracy']}
    if 'road' in results:
        values.update(road_iou=results['road']['iou'], maxf=results['kitti']['MaxF'],
                      ap=results['kitti']['AP'])
    for name, source in results.get('sources', {}).items():
        values.update({'%s/%s' % (name, k): v for k, v in val_metrics(source).items()})
    return {k: float(v) for k, v in values.items() if v == v and np.isfinite(v)}


METRICS = ('road_iou', 'maxf', 'ap', 'mean_iou', 'pixel_accuracy')
