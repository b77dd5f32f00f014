import os

import imageio.v2 as imageio
import numpy as np

from fcnroad.training import curves


def test_plot_has_one_point_per_epoch_and_writes_a_png(tmp_path):
    path = str(tmp_path / 'curves.png')
    evaluations = [{'epoch': 2, 'road_iou': 0.7}, {'epoch': 4, 'road_iou': 0.8}]
    series = curves.plot(path, [0.9, 0.5, 0.4, 0.3], evaluations, 'road_iou')
    assert series['loss'] == ([1, 2, 3, 4], [0.9, 0.5, 0.4, 0.3])
    assert series['road_iou'] == ([2, 4], [0.7, 0.8])
    image = imageio.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100
    assert os.listdir(tmp_path) == ['curves.png']     # no temporary file left


def test_event_file_holds_scalars_and_images(tmp_path):
    import tensorflow.compat.v1 as tf
    writer = curves.EventWriter(str(tmp_path))
    for step in (1, 2, 3):
        writer.scalars(step, {curves.TRAIN_LOSS: 1.0 / step})
    writer.images(3, curves.VAL_IMAGES, [np.zeros((4, 6, 3), np.uint8)])
    writer.close()
    events = [e for f in os.listdir(tmp_path) for e in tf.train.summary_iterator(str(tmp_path / f))]
    losses = [(e.step, v.simple_value) for e in events for v in e.summary.value if v.tag == curves.TRAIN_LOSS]
    assert [s for s, _ in losses] == [1, 2, 3] and abs(losses[2][1] - 1 / 3) < 1e-6
    images = [v.image for e in events for v in e.summary.value if v.tag.startswith(curves.VAL_IMAGES)]
    assert len(images) == 1 and (images[0].height, images[0].width) == (4, 6)


def test_val_metrics_picks_the_scalars():
    results = {'mean_iou': 0.5, 'pixel_accuracy': 0.9, 'road': {'iou': 0.6}, 'kitti': {'MaxF': 0.7, 'AP': 0.8}}
    assert curves.val_metrics(results) == {'mean_iou': 0.5, 'pixel_accuracy': 0.9, 'road_iou': 0.6,
                                           'maxf': 0.7, 'ap': 0.8}
    assert set(curves.val_metrics({'mean_iou': 0.5, 'pixel_accuracy': float('nan')})) == {'mean_iou'}
