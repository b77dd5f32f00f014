import numpy as np
import tensorflow.compat.v1 as tf

from fcnroad.evaluation import scoring


def ramp_model():
    """A 'network' whose road probability rises from 0 at the left edge to 1 at the right."""
    graph = tf.Graph()
    with graph.as_default():
        image = tf.placeholder(tf.float32, [None, None, None, 3])
        keep_prob = tf.placeholder(tf.float32)
        width = tf.shape(image)[2]
        ramp = tf.cast(tf.range(width), tf.float32) / tf.cast(width - 1, tf.float32)
        road = tf.zeros_like(image[..., 0]) + ramp
        probabilities = tf.stack([1 - road, road], -1)
    return tf.Session(graph=graph), {'image_input': image, 'keep_prob': keep_prob, 'probabilities': probabilities}


def test_scaled_shapes_are_multiples_of_32():
    assert scoring.scaled_shape((192, 256), 1.0) == (192, 256)
    assert scoring.scaled_shape((192, 256), 0.75) == (160, 192)     # 144 -> 160, 192
    assert scoring.scaled_shape((192, 256), 1.25) == (256, 320)     # 240 -> 256, 320


def test_flip_averaging_and_scales_known_answer():
    sess, tensors = ramp_model()
    images = [np.zeros((50, 70, 3), np.uint8)]
    plain, = scoring.tta_probabilities(sess, tensors, images, (64, 96), [(50, 70)])
    assert plain.shape == (50, 70, 2) and plain[0, 0, 1] < 0.02 and plain[0, -1, 1] > 0.98
    flipped, = scoring.tta_probabilities(sess, tensors, images, (64, 96), [(50, 70)], flip=True)
    np.testing.assert_allclose(flipped[..., 1], 0.5, atol=1e-6)     # the ramp and its mirror average out
    multi, = scoring.tta_probabilities(sess, tensors, images, (64, 96), [(50, 70)], scales=(0.5, 1.0, 1.5))
    assert multi.shape == (50, 70, 2)
    np.testing.assert_allclose(multi.sum(-1), 1, atol=1e-5)
    assert multi[0, 0, 1] < multi[0, 35, 1] < multi[0, -1, 1]


class TwoImages:
    """Just what scoring.evaluate reads of a dataset: two blank 40x60 images, labels made here."""
    num_classes, class_names, name, positive = 2, ('background', 'road'), 'two images', 1

    def __init__(self, folder):
        import imageio
        self.pairs, self.labels = [], {}
        for n, road_from in enumerate((30, 45)):      # road in the columns from road_from on
            path = str(folder / ('%d.png' % n))
            imageio.imwrite(path, np.zeros((40, 60, 3), np.uint8))
            label = np.zeros((40, 60), np.uint8)
            label[:, road_from:] = 1
            label[:2] = 255                               # two rows not evaluated
            self.pairs.append((path, path + '.label'))
            self.labels[path + '.label'] = label

    def __len__(self):
        return len(self.pairs)

    def read_label(self, path):
        return self.labels[path]


def test_each_images_counts_reach_on_image_and_add_up_to_the_pooled_matrix(tmp_path):
    from fcnroad.evaluation import metrics
    sess, tensors = ramp_model()           # predicts road on the right half: columns 30.. of 60
    dataset, seen, road = TwoImages(tmp_path), [], metrics.RoadEvaluation()
    results = scoring.evaluate(sess, tensors, dataset, (64, 96), road=road,
                               on_image=lambda pair, image, label, p, classes, cm: seen.append((pair, classes, cm)))
    assert [pair for pair, _, _ in seen] == dataset.pairs
    for _, classes, cm in seen:
        assert (classes[:, :30] == 0).all() and (classes[:, 30:] == 1).all()
    # image 0: its labels match the prediction; image 1 has columns 30-44 predicted road, labelled background
    np.testing.assert_array_equal(seen[0][2], [[38 * 30, 0], [0, 38 * 30]])
    np.testing.assert_array_equal(seen[1][2], [[38 * 30, 38 * 15], [0, 38 * 15]])
    np.testing.assert_array_equal(results['confusion_matrix'], seen[0][2] + seen[1][2])
    assert road.positive_hist.sum() == 38 * (30 + 15) and road.negative_hist.sum() == 38 * (30 + 45)
    assert results['kitti'] == road.scores()
