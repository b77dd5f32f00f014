"""fcnroad/serving/export.py and export.py: TF Serving's layout, the serve tag, answers as a client sees them."""
import io
import os
import shutil
import subprocess
import sys

import imageio.v2 as imageio
import numpy as np
import pytest

from fcnroad.serving import export, saved_model
from fcnroad.serving.predictor import Predictor
from test_predict import street

tf2 = pytest.importorskip('tensorflow')
tf = tf2.compat.v1


@pytest.fixture(scope='module')
def model_dir(trained_run):
    return os.path.join(trained_run[1], 'model')


def in_fresh_python(script, *args):
    """Run script with plain TensorFlow, outside the project (as a client would); its stdout."""
    return subprocess.run([sys.executable, '-c', script, *args], check=True, capture_output=True, text=True,
                          cwd=os.path.dirname(args[0]), env=dict(os.environ, PYTHONPATH='')).stdout


def project_classes(model, image):
    predictor = Predictor(model)
    try:
        return predictor(image[None])[0][0]
    finally:
        predictor.close()


def test_export_writes_tf_serving_versions_tagged_serve(model_dir, tmp_path):
    import export as export_command
    out = str(tmp_path / 'exports')
    first = export_command.main(['--model', model_dir, '--out', out])
    second = export_command.main(['--format', 'savedmodel', '--model', model_dir, '--out', out])
    assert (first, second) == (os.path.join(out, 'fcn8s', '1'), os.path.join(out, 'fcn8s', '2'))
    assert sorted(os.listdir(os.path.join(out, 'fcn8s'))) == ['1', '2']
    meta = export.read_meta_graph(first)
    assert list(meta.meta_info_def.tags) == ['serve']
    assert {saved_model.SERVING_SIGNATURE, saved_model.BYTES_SIGNATURE} <= set(meta.signature_def)
    with pytest.raises(SystemExit, match='fcn8s/2: exists'):
        export_command.main(['--model', model_dir, '--out', out, '--version', '2'])


def test_saved_model_cli_shows_and_runs_the_export(model_dir, tmp_path):
    cli = shutil.which('saved_model_cli') or pytest.skip('no saved_model_cli on PATH')
    target = export.export_savedmodel(model_dir, str(tmp_path / 'exports'), version=3)
    shown = subprocess.run([cli, 'show', '--dir', target, '--tag_set', 'serve', '--signature_def',
                            saved_model.SERVING_SIGNATURE], capture_output=True, text=True, check=True).stdout
    assert "inputs['images']" in shown and 'DT_UINT8' in shown and "outputs['classes']" in shown
    image = street((37, 53), 5)
    np.save(tmp_path / 'image.npy', image[None])
    run = subprocess.run([cli, 'run', '--dir', target, '--tag_set', 'serve', '--signature_def',
                          saved_model.SERVING_SIGNATURE, '--inputs', 'images=%s' % (tmp_path / 'image.npy'),
                          '--outdir', str(tmp_path / 'out')], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    classes = np.load(tmp_path / 'out' / 'classes.npy')
    np.testing.assert_array_equal(classes[0], project_classes(model_dir, image))


def test_a_bytes_request_decodes_and_answers_with_a_png_class_map(model_dir, tmp_path):
    target = export.export_savedmodel(model_dir, str(tmp_path / 'exports'))
    image = street((41, 67), 9)
    encoded = io.BytesIO()
    imageio.imwrite(encoded, image, format='png')
    (tmp_path / 'request.png').write_bytes(encoded.getvalue())
    script = (
        'import sys, tensorflow as tf\n'
        'model = tf.saved_model.load(sys.argv[1])\n'          # no tags given: TF2 loads `serve`
        'answer = model.signatures["predict_bytes"](image_bytes=tf.constant([open(sys.argv[2], "rb").read()]))\n'
        'open(sys.argv[3], "wb").write(answer["classes_png_bytes"].numpy()[0])\n')
    in_fresh_python(script, target, str(tmp_path / 'request.png'), str(tmp_path / 'answer.png'))
    answer = imageio.imread(tmp_path / 'answer.png')
    assert answer.shape[:2] == (41, 67)
    np.testing.assert_array_equal(answer.reshape(41, 67), project_classes(model_dir, image))


def test_a_model_saved_with_the_old_fcn8_tag_loads_and_exports_with_the_new_signatures(model_dir, tmp_path):
    old = str(tmp_path / 'old_model')
    with tf.Graph().as_default(), tf.Session() as sess:       # what main.py wrote before 2026-12-01
        meta = tf.saved_model.loader.load(sess, ['serve'], model_dir)
        builder = tf.saved_model.Builder(old)
        signatures = {k: meta.signature_def[k] for k in (saved_model.SERVING_SIGNATURE,
                                                         saved_model.TRAINING_SIZE_SIGNATURE)}
        saved = {name for name, _ in tf.train.list_variables(os.path.join(model_dir, 'variables', 'variables'))}
        builder.add_meta_graph_and_variables(sess, [saved_model.OLD_MODEL_TAG], signature_def_map=signatures,
                                             saver=tf.train.Saver([v for v in tf.global_variables()
                                                                   if v.op.name in saved], sharded=False))
        builder.save()
    shutil.copy(os.path.join(model_dir, saved_model.RUN_CONFIG), old)
    image = street((45, 71), 2)
    expected = project_classes(model_dir, image)
    np.testing.assert_array_equal(project_classes(old, image), expected)   # old models still read
    target = export.export_savedmodel(old, str(tmp_path / 'exports'), name='road')
    assert target.endswith(os.path.join('road', '1'))
    assert list(export.read_meta_graph(target).meta_info_def.tags) == ['serve']
    np.testing.assert_array_equal(project_classes(target, image), expected)


def test_a_folder_that_is_not_a_model_is_a_one_line_error_and_leaves_nothing(tmp_path):
    import export as export_command
    with pytest.raises(SystemExit, match='nothing: no such folder'):
        export_command.main(['--model', str(tmp_path / 'nothing'), '--out', str(tmp_path / 'exports')])
    assert not os.path.exists(tmp_path / 'exports')


def test_the_onnx_export_gives_the_project_class_map_in_onnx_runtime_alone(model_dir, tmp_path):
    pytest.importorskip('tf2onnx')
    pytest.importorskip('onnxruntime')
    import export as export_command
    path = export_command.main(['--format', 'onnx', '--model', model_dir, '--out', str(tmp_path / 'road.onnx')])
    images = np.stack([street((83, 129), 4), street((83, 129), 5)])    # odd: both resizes are real
    np.save(tmp_path / 'images.npy', images)
    script = (
        'import sys, numpy as np, onnxruntime as ort\n'
        'assert "tensorflow" not in sys.modules\n'
        'session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])\n'
        'classes, probabilities = session.run(["classes", "probabilities"], {"images": np.load(sys.argv[2])})\n'
        'np.save(sys.argv[3], classes); np.save(sys.argv[4], probabilities)\n'
        'print(session.get_modelmeta().custom_metadata_map["run_config.json"])\n')
    out = in_fresh_python(script, path, str(tmp_path / 'images.npy'), str(tmp_path / 'c.npy'), str(tmp_path / 'p.npy'))
    assert '"image_shape": [64, 96]' in out
    predictor = Predictor(model_dir)
    try:
        expected, probabilities = predictor(images)
    finally:
        predictor.close()
    classes = np.load(tmp_path / 'c.npy')
    assert classes.shape == (2, 83, 129) and (classes == expected).mean() >= 0.999
    np.testing.assert_allclose(np.load(tmp_path / 'p.npy'), probabilities, atol=1e-4)
    with pytest.raises(SystemExit, match='road.onnx: exists'):
        export_command.main(['--format', 'onnx', '--model', model_dir, '--out', path])


def test_the_exportable_resize_is_tensorflows_antialiased_resize():
    rng = np.random.RandomState(0)
    with tf.Graph().as_default(), tf.Session() as sess:
        for shape, size in (((1, 75, 121, 3), (64, 96)), ((2, 37, 53, 1), (64, 96)), ((1, 40, 40, 2), (40, 40))):
            x = tf.constant(rng.uniform(0, 255, shape).astype(np.float32))
            ours, theirs = sess.run([export.antialiased_resize(x, size), tf2.image.resize(x, size, antialias=True)])
            np.testing.assert_allclose(ours, theirs, atol=5e-3)


TFLITE_SCRIPT = (
    'import sys, numpy as np, tensorflow as tf\n'
    'interpreter = tf.lite.Interpreter(model_path=sys.argv[1])\n'
    'images = np.load(sys.argv[2])\n'
    'index = interpreter.get_input_details()[0]["index"]\n'
    'interpreter.resize_tensor_input(index, images.shape)\n'        # any size, as exported
    'interpreter.allocate_tensors()\n'
    'interpreter.set_tensor(index, images)\n'
    'interpreter.invoke()\n'
    'out = {d["name"]: interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}\n'
    'np.save(sys.argv[3], out["classes"])\n')


def test_the_tflite_export_runs_in_tflites_interpreter_at_any_size(model_dir, tmp_path):
    import export as export_command
    path = export_command.main(['--format', 'tflite', '--model', model_dir, '--out', str(tmp_path / 'road.tflite')])
    image = street((77, 131), 6)
    np.save(tmp_path / 'images.npy', image[None])
    in_fresh_python(TFLITE_SCRIPT, path, str(tmp_path / 'images.npy'), str(tmp_path / 'c.npy'))
    classes = np.load(tmp_path / 'c.npy')
    agreement = (classes[0] == project_classes(model_dir, image)).mean()
    assert classes.shape == (1, 77, 131)
    assert agreement >= 0.999, agreement


def test_the_calibrated_int8_export_paints_what_the_float_model_paints(model_dir, tmp_path):
    import export as export_command
    from fcnroad.serving import runtimes
    path = export_command.main(['--format', 'tflite', '--int8', '--model', model_dir,
                                '--out', str(tmp_path / 'road_int8.tflite')])
    predictor = runtimes.open_predictor(path)
    try:
        assert predictor.network_alone
        images = [street((77, 131), 6), street((64, 96), 7), street((120, 90), 8)]
        agreements = [(predictor(image[None])[0][0] == project_classes(model_dir, image)).mean() for image in images]
    finally:
        predictor.close()
    assert min(agreements) >= 0.99, agreements


def test_int8_belongs_to_tflite(model_dir, tmp_path):
    import export as export_command
    with pytest.raises(SystemExit, match='--int8 belongs to --format tflite'):
        export_command.main(['--format', 'onnx', '--int8', '--model', model_dir, '--out', str(tmp_path / 'x.onnx')])
    assert os.listdir(tmp_path) == []


def test_a_channel_reversal_becomes_a_gather_that_computes_the_same():
    graph_def = tf.Graph()
    with graph_def.as_default():
        images = tf.placeholder(tf.float32, [None, 2, 2, 3], name='images')
        tf.identity(tf.reverse(images, [-1]) - tf.constant([1.0, 2.0, 3.0]), name='out')
    rewritten = export.channel_reversals_as_gathers(graph_def.as_graph_def())
    assert 'ReverseV2' not in {node.op for node in rewritten.node} and 'GatherV2' in {node.op for node in rewritten.node}
    batch = np.random.RandomState(0).rand(2, 2, 2, 3).astype(np.float32)
    results = []
    for definition in (graph_def.as_graph_def(), rewritten):
        with tf.Graph().as_default(), tf.Session() as sess:
            tf.import_graph_def(definition, name='')
            results.append(sess.run('out:0', {'images:0': batch}))
    np.testing.assert_allclose(results[1], results[0])
    np.testing.assert_allclose(results[0], batch[..., ::-1] - [1, 2, 3], rtol=1e-6)
