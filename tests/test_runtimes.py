"""fcnroad/serving/runtimes.py and predict.py --runtime: every export paints as its SavedModel does."""
import json
import os

import imageio.v2 as imageio
import numpy as np
import pytest

import predict
from fcnroad import errors
from fcnroad.serving import export, runtimes
from fcnroad.serving.predictor import Predictor
from conftest import write_png
from test_predict import street

pytest.importorskip('tensorflow')


@pytest.fixture(scope='module')
def exports(trained_run, tmp_path_factory):
    """{runtime: model path}: the tiny trained model and its ONNX and TFLite exports."""
    import tensorflow.compat.v1 as tf
    tf.disable_v2_behavior()
    model = os.path.join(trained_run[1], 'model')
    folder = tmp_path_factory.mktemp('exports')
    found = {'tensorflow': model, 'tflite': export.export_tflite(model, str(folder / 'road.tflite'))}
    try:
        import onnxruntime  # noqa: F401
        import tf2onnx  # noqa: F401
        found['onnx'] = export.export_onnx(model, str(folder / 'road.onnx'))
    except ImportError:
        pass
    return found


def export_runtimes(exports):     # OpenVINO's: tests/test_openvino.py (the tiny FCN-8s is refused there)
    return [r for r in ('onnx', 'tflite') if r in exports]


def test_the_runtime_follows_from_the_model_path(tmp_path):
    assert runtimes.runtime_of(str(tmp_path)) == 'tensorflow'
    assert runtimes.runtime_of('exports/road.onnx') == 'onnx'
    assert runtimes.runtime_of('exports/ROAD.TFLITE') == 'tflite'
    assert runtimes.runtime_of('exports/road.xml') == 'openvino'
    with pytest.raises(errors.ModelError, match='nothing: no such model folder or file'):
        runtimes.runtime_of(str(tmp_path / 'nothing'))
    (tmp_path / 'weights.h5').write_bytes(b'x')
    with pytest.raises(errors.ModelError, match=r'weights.h5: neither a SavedModel folder nor an \.onnx, \.tflite or '
                                                r'OpenVINO \.xml file'):
        runtimes.runtime_of(str(tmp_path / 'weights.h5'))


def test_a_runtime_that_does_not_fit_the_model_is_a_one_line_error(exports):
    with pytest.raises(errors.ConfigError, match=r'--runtime onnx needs a \.onnx file \(export.py --format onnx\)'):
        runtimes.open_predictor(exports['tensorflow'], 'onnx')
    with pytest.raises(errors.ConfigError, match='--runtime tensorflow needs a SavedModel folder'):
        runtimes.open_predictor(exports['tflite'], 'tensorflow')
    with pytest.raises(errors.ConfigError, match='--scales needs the SavedModel'):
        runtimes.open_predictor(exports['tflite'], scales=(0.75, 1.0))


def test_a_file_that_is_not_an_export_is_refused_by_name(tmp_path):
    broken = tmp_path / 'broken.tflite'
    broken.write_bytes(b'not a flatbuffer')
    with pytest.raises(errors.ModelError, match='broken.tflite: cannot load the TFLite model'):
        runtimes.open_predictor(str(broken))


def test_each_export_gives_the_saved_models_classes_and_settings(exports):
    images = np.stack([street((83, 129), 1), street((83, 129), 2)])     # odd: both resizes are real
    reference = Predictor(exports['tensorflow'])
    try:
        expected, expected_probs = reference(images)
        run_config = reference.run_config
    finally:
        reference.close()
    for runtime in export_runtimes(exports):
        predictor = runtimes.open_predictor(exports[runtime])
        try:
            classes, probs = predictor(images)
        finally:
            predictor.close()
        assert predictor.run_config == run_config, runtime
        assert predictor.palette == reference.palette
        assert classes.shape == (2, 83, 129) and classes.dtype == np.uint8
        assert (classes == expected).mean() >= 0.999, runtime
        np.testing.assert_allclose(probs, expected_probs, atol=1e-3, err_msg=runtime)


def test_flip_on_an_export_treats_an_image_and_its_mirror_alike(exports):
    # Averaging with the mirrored image's map mirrored back makes the answer mirror-symmetric:
    # a missing or wrong mirror-back would break it (the tiny net itself is not symmetric).
    image = street((67, 99), 3)
    for runtime in export_runtimes(exports):
        plain = runtimes.open_predictor(exports[runtime])
        flipped = runtimes.open_predictor(exports[runtime], flip=True)
        try:
            _, p = flipped(image[None])
            _, p_mirror = flipped(np.ascontiguousarray(image[None, :, ::-1]))
            _, p_plain = plain(image[None])
        finally:
            plain.close()
            flipped.close()
        np.testing.assert_allclose(p_mirror[:, :, ::-1], p, atol=1e-5, err_msg=runtime)
        assert np.abs(p - p_plain).max() > 1e-4, runtime     # the flip did change something


def test_predict_paints_the_same_with_any_runtime(exports, tmp_path):
    folder = tmp_path / 'photos'
    for i, shape in enumerate(((61, 93), (75, 121))):
        write_png(str(folder / ('photo_%d.png' % i)), street(shape, 10 + i))
    outputs = {}
    for runtime, model in exports.items():
        out = tmp_path / runtime
        assert predict.main(['--model', model, str(folder), '--out', str(out), '--class-map']) == 2
        outputs[runtime] = {name: imageio.imread(out / name) for name in sorted(os.listdir(out))}
    names = sorted(outputs['tensorflow'])
    assert names == ['photo_0.png', 'photo_0_classes.png', 'photo_1.png', 'photo_1_classes.png']
    for runtime, written in outputs.items():
        assert sorted(written) == names, runtime
        for name in names:
            if name.endswith('_classes.png'):
                assert (written[name] == outputs['tensorflow'][name]).mean() >= 0.999, (runtime, name)


def test_the_tflite_export_carries_its_run_config(exports, trained_run):
    import tensorflow as tf2
    interpreter = tf2.lite.Interpreter(model_path=exports['tflite'])
    interpreter.allocate_tensors()
    outputs = {d['name']: d['index'] for d in interpreter.get_output_details()}
    with open(os.path.join(trained_run[1], 'model', 'run_config.json')) as f:
        assert json.loads(interpreter.get_tensor(outputs[export.TFLITE_RUN_CONFIG]).item()) == json.load(f)

