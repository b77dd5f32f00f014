"""export.py --format openvino and --runtime openvino: the IR paints as its SavedModel does."""
import os

import numpy as np
import pytest

from conftest import make_kitti, run_tiny, write_tiny_light_weights
from fcnroad import errors
from fcnroad.serving import export, runtimes
from fcnroad.serving.predictor import Predictor
from test_predict import street

pytest.importorskip('openvino', reason='the openvino extra is not installed')


@pytest.fixture(scope='module')
def light_model(tmp_path_factory, tiny_vgg_pretrained):
    """A tiny LR-ASPP-Lite0 trained on a synthetic KITTI set: the shipped model's family."""
    base = tmp_path_factory.mktemp('light')
    kitti = make_kitti(str(base / 'kitti'), n_train=8, n_test=1)
    run_dir = run_tiny(kitti, tiny_vgg_pretrained, str(base / 'runs'), '--model', 'lraspp_lite0', '--skip-checks',
                       '--encoder-weights', write_tiny_light_weights('lraspp_lite0', str(base)))
    return os.path.join(run_dir, 'model')


@pytest.mark.parametrize('shape', [(64, 96), (83, 129), (54, 96)])
def test_the_openvino_ir_gives_the_saved_models_classes_at_any_size(light_model, tmp_path, shape):
    xml = export.export_openvino(light_model, str(tmp_path / 'road.xml'))
    assert os.path.isfile(xml[:-4] + '.bin')
    images = np.stack([street(shape, 1), street(shape, 2)])
    reference, predictor = Predictor(light_model), runtimes.open_predictor(xml)
    try:
        expected, expected_probs = reference(images)
        classes, probs = predictor(images)
        assert predictor.run_config == reference.run_config
    finally:
        reference.close()
        predictor.close()
    assert classes.shape == images.shape[:3] and classes.dtype == np.uint8
    assert (classes == expected).mean() >= 0.999
    np.testing.assert_allclose(probs, expected_probs, atol=2e-3)


def test_the_int8_ir_paints_what_the_float_model_paints(light_model, tmp_path):
    xml = export.export_openvino(light_model, str(tmp_path / 'road_int8.xml'), int8=True)
    images = [street((77, 131), 6), street((64, 96), 7)]
    reference, predictor = Predictor(light_model), runtimes.open_predictor(xml)
    try:
        agreements = [(predictor(im[None])[0] == reference(im[None])[0]).mean() for im in images]
    finally:
        reference.close()
        predictor.close()
    assert min(agreements) >= 0.98, agreements


def test_an_ir_that_would_compute_another_map_is_refused_and_nothing_written(trained_run, tmp_path):
    # the tiny FCN-8s: its transposed convolutions come back from a saved IR computing another map
    model = os.path.join(trained_run[1], 'model')
    with pytest.raises(export.ExportError, match='does not compute this network as TensorFlow does'):
        export.export_openvino(model, str(tmp_path / 'fcn.xml'))
    assert os.listdir(tmp_path) == []


def test_an_ir_is_an_xml_file_and_is_never_written_over(light_model, tmp_path):
    with pytest.raises(export.ExportError, match=r'an OpenVINO IR is an \.xml file'):
        export.export_openvino(light_model, str(tmp_path / 'road.onnx'))
    (tmp_path / 'taken.bin').write_bytes(b'x')
    with pytest.raises(export.ExportError, match='taken.bin: exists'):
        export.export_openvino(light_model, str(tmp_path / 'taken.xml'))


def test_the_runtime_must_fit_the_file(light_model):
    with pytest.raises(errors.ConfigError, match=r'--runtime openvino needs a \.xml file \(export.py --format openvino\)'):
        runtimes.open_predictor(light_model, 'openvino')


def test_an_ir_of_another_project_is_refused(light_model, tmp_path):
    import openvino as ov
    xml = export.export_openvino(light_model, str(tmp_path / 'road.xml'))
    model = ov.Core().read_model(xml)
    ov.save_model(ov.Model(model.outputs, model.get_parameters(), 'foreign'), str(tmp_path / 'foreign.xml'))
    with pytest.raises(errors.ModelError, match='foreign.xml: not an export of this project'):
        runtimes.open_predictor(str(tmp_path / 'foreign.xml'))
