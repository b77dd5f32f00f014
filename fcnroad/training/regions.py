"""Region-based segmentation (models/region_cnn.py) trained and scored: the regions and frozen
VGG16 features of every training image, the classifier fitted on them, and the held-out split
scored by evaluation/scoring.py like every network."""
import time

import numpy as np
import tensorflow as tf2
from tqdm import tqdm

from fcnroad.data import arrays
from fcnroad.evaluation import scoring
from fcnroad.models import encoders, region_cnn

tf = tf2.compat.v1


class RegionPipeline:
    """Proposals and features of one image at the working size, in a session of its own graph;
    seconds spent on each and regions proposed are counted."""

    def __init__(self, vgg_weights, image_shape, scales=region_cnn.PROPOSAL_SCALES):
        self.image_shape, self.scales = tuple(image_shape), tuple(scales)
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.images = tf.placeholder(tf.float32, [1, None, None, 3], name='image_input')
            self.features = region_cnn.feature_graph(self.images, vgg_weights)
            self.sess = tf.Session(graph=self.graph)
            self.sess.run(tf.global_variables_initializer())
            encoders.transplant(self.sess, vgg_weights)
        self.start_counting()

    def start_counting(self):
        self.counts = {'images': 0, 'regions': 0, 'proposal_seconds': 0.0, 'feature_seconds': 0.0}

    def regions_and_features(self, image):
        """(regions (S, h, w) at the working size, (R, D) features) of a uint8 RGB image."""
        work = arrays.resize_image(image, self.image_shape)
        start = time.time()
        regions = region_cnn.propose(work, self.scales)
        proposed = time.time()
        maps = self.sess.run(self.features, {self.images: work[None].astype(np.float32)})
        features = region_cnn.describe(regions, [m[0] for m in maps])
        self.counts['proposal_seconds'] += proposed - start
        self.counts['feature_seconds'] += time.time() - proposed
        self.counts['images'] += 1
        self.counts['regions'] += region_cnn.region_count(regions)
        return regions, features

    def summary(self):
        """Per image: regions proposed, and seconds for proposals and for features."""
        n = max(1, self.counts['images'])
        return {'images': self.counts['images'], 'regions_per_image': round(self.counts['regions'] / n, 1),
                'proposal_seconds_per_image': round(self.counts['proposal_seconds'] / n, 3),
                'feature_seconds_per_image': round(self.counts['feature_seconds'] / n, 3)}

    def close(self):
        self.sess.close()


def training_regions(pipeline, dataset, progress=True):
    """(features (N, D), classes (N,)) of every labelled region of the dataset's images."""
    features, targets = [], []
    for image_path, label_path in tqdm(dataset.pairs, desc='regions of %s' % dataset.name, unit='image',
                                       disable=not progress, leave=False):
        regions, x = pipeline.regions_and_features(arrays.read_png(image_path))
        label = arrays.resize_label(dataset.read_label(label_path), pipeline.image_shape)
        y = region_cnn.region_targets(regions, label, dataset.num_classes)
        features.append(x[y >= 0])
        targets.append(y[y >= 0])
    return np.concatenate(features), np.concatenate(targets)


def predictor(pipeline, classifier):
    """probabilities(images, target shapes) for scoring.score_probabilities: each image's pixels
    from their highest-scoring regions, resized back to the label's shape."""
    def probabilities(images, target_shapes):
        maps = []
        for image, shape in zip(images, target_shapes):
            regions, x = pipeline.regions_and_features(image)
            p = region_cnn.pixel_probabilities(regions, classifier.probabilities(x))
            maps.append(arrays.resize_probabilities(p, shape))
        return maps
    return probabilities


def train_and_score(vgg_weights, train_set, val_set, image_shape, scales=region_cnn.PROPOSAL_SCALES,
                    c=region_cnn.CLASSIFIER_C, progress=True):
    """(classifier, results): fitted on train_set's regions, scored on val_set; results hold the
    metrics, the training regions, and regions and seconds per image of each stage."""
    pipeline = RegionPipeline(vgg_weights, image_shape, scales)
    try:
        start = time.time()
        features, targets = training_regions(pipeline, train_set, progress)
        described = time.time()
        classifier = region_cnn.RegionClassifier.fit(features, targets, train_set.num_classes, c=c)
        fitted = time.time()
        training = dict(pipeline.summary(), training_regions=int(len(targets)), feature_depth=int(features.shape[1]),
                        describe_seconds=round(described - start, 1), fit_seconds=round(fitted - described, 1))
        del features
        pipeline.start_counting()     # the scoring's own per-image figures
        results = scoring.score_probabilities(predictor(pipeline, classifier), val_set) if len(val_set) else {}
        results['scoring'] = pipeline.summary()
        results['training'] = training
        return classifier, results
    finally:
        pipeline.close()
