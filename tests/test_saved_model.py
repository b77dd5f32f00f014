import os
import subprocess
import sys

import numpy as np
import pytest

from fcnroad.evaluation import scoring
from fcnroad.serving import saved_model
from fcnroad.serving.predictor import Predictor
from test_predict import street

tf = pytest.importorskip('tensorflow').compat.v1


@pytest.fixture(scope='module')
def model_dir(trained_run):
    return os.path.join(trained_run[1], 'model')


def test_exported_model_in_plain_tensorflow_gives_the_same_classes(model_dir, tmp_path):
    image = street((75, 121), 7)
    predictor = Predictor(model_dir)
    classes, probabilities = predictor(image[None])
    predictor.close()
    np.save(tmp_path / 'image.npy', image)
    script = (
        'import sys, numpy as np, tensorflow as tf\n'
        'model = tf.saved_model.load(sys.argv[1])\n'
        'out = model.signatures["serving_default"](images=tf.constant(np.load(sys.argv[2])[None]))\n'
        'np.save(sys.argv[3], out["classes"].numpy()); np.save(sys.argv[4], out["probabilities"].numpy())\n')
    subprocess.run([sys.executable, '-c', script, model_dir, str(tmp_path / 'image.npy'),
                    str(tmp_path / 'classes.npy'), str(tmp_path / 'probs.npy')],
                   check=True, cwd=str(tmp_path), env=dict(os.environ, PYTHONPATH=''))
    exported = np.load(tmp_path / 'classes.npy')
    assert exported.shape == (1, 75, 121) and exported.dtype == np.uint8
    np.testing.assert_array_equal(exported, classes)
    np.testing.assert_allclose(np.load(tmp_path / 'probs.npy'), probabilities, atol=1e-5)
    assert 0.2 < classes.mean() < 0.8


def test_training_size_signature_is_the_network_evaluate_feeds(model_dir):
    image = street((64, 96), 3)
    with tf.Graph().as_default(), tf.Session() as sess:
        tensors, config, meta = saved_model.load_model(sess, model_dir, with_meta=True)
        assert set(meta.signature_def) == {saved_model.SERVING_SIGNATURE, saved_model.BYTES_SIGNATURE,
                                           saved_model.TRAINING_SIZE_SIGNATURE}
        assert list(meta.meta_info_def.tags) == ["serve"]
        assert tuple(config['image_shape']) == image.shape[:2]
        probs = scoring.predict(sess, tensors, image[None].astype(np.float32))
    predictor = Predictor(model_dir)
    _, served = predictor(image[None])     # the same size: the two resizes are identities
    predictor.close()
    np.testing.assert_allclose(served, probs, atol=1e-5)


def test_saving_twice_into_one_folder_is_refused_not_mixed(model_dir, tmp_path):
    with tf.Graph().as_default(), tf.Session() as sess:
        tensors, config = saved_model.load_model(sess, model_dir)
        target = str(tmp_path / 'model')
        saved = {name for name, _ in tf.train.list_variables(os.path.join(model_dir, 'variables', 'variables'))}
        variables = [v for v in tf.global_variables() if v.op.name in saved]
        saved_model.save_model(sess, target, variables, tensors, config)
        with pytest.raises(Exception, match='exists'):
            saved_model.save_model(sess, target, variables, tensors, config)


def test_a_model_saved_before_the_positive_class_was_recorded_is_a_road_model_when_it_has_two_classes():
    assert saved_model.positive_class({'num_classes': 2}) == 1
    assert saved_model.positive_class({'num_classes': 11}) is None
    assert saved_model.positive_class({'num_classes': 2, 'positive_class': None}) is None
    assert saved_model.up_to_date({'num_classes': 2})['positive_class'] == 1
