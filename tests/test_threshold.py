"""A road model's decision: road where its probability passes the threshold (0.5 unless --threshold says)."""
import os

import numpy as np
import pytest

from fcnroad import errors
from fcnroad.evaluation import metrics
from fcnroad.serving import export, runtimes
from test_predict import street


def test_the_decision_is_road_above_the_threshold_and_the_argmax_without_a_positive_class():
    probs = np.array([[[0.7, 0.3], [0.4, 0.6], [0.1, 0.9]]])
    np.testing.assert_array_equal(metrics.classes_from_probabilities(probs, 1), [[0, 1, 1]])
    np.testing.assert_array_equal(metrics.classes_from_probabilities(probs, 1, threshold=0.25), [[1, 1, 1]])
    np.testing.assert_array_equal(metrics.classes_from_probabilities(probs, 1, threshold=0.8), [[0, 0, 1]])
    np.testing.assert_array_equal(metrics.classes_from_probabilities(probs), [[0, 1, 1]])


@pytest.fixture(scope='module')
def model_dir(trained_run):
    return os.path.join(trained_run[1], 'model')


@pytest.fixture(scope='module')
def onnx_model(model_dir, tmp_path_factory):
    return export.export_onnx(model_dir, str(tmp_path_factory.mktemp('onnx') / 'road.onnx'))


@pytest.mark.parametrize('runtime', ['tensorflow', 'onnx'])
def test_every_runtime_decides_at_the_threshold_it_is_given(model_dir, onnx_model, runtime):
    model = model_dir if runtime == 'tensorflow' else onnx_model
    image = street((64, 96), 5)[None]
    decided = {}
    for threshold in (0.05, 0.5, 0.95):
        predictor = runtimes.open_predictor(model, threshold=threshold)
        try:
            classes, probabilities = predictor(image)
        finally:
            predictor.close()
        np.testing.assert_array_equal(classes[0], probabilities[0, ..., 1] > threshold)
        decided[threshold] = classes.sum()
    assert decided[0.05] >= decided[0.5] >= decided[0.95]


def test_evaluate_counts_the_road_at_the_threshold(trained_run, model_dir):
    import evaluate
    kitti, _ = trained_run
    low = evaluate.main(['--model', model_dir, '--data-dir', kitti, '--threshold', '0.01'])
    default = evaluate.main(['--model', model_dir, '--data-dir', kitti])
    assert low['threshold'] == 0.01 and default['threshold'] == metrics.DECISION
    assert low['road']['recall'] >= default['road']['recall'] and low['road']['recall'] > 0.99
    assert low['kitti'] == default['kitti']         # MaxF and AP look at every threshold


def test_a_threshold_for_a_model_of_classes_alike_is_refused(model_dir):
    from fcnroad.serving.predictor import check_threshold
    with pytest.raises(errors.ConfigError, match='--threshold 0.3: decides a road model'):
        check_threshold(0.3, {'positive_class': None, 'num_classes': 11})
    assert check_threshold(0.3, {'positive_class': 1, 'num_classes': 2}) == 0.3
