"""benchmarks/inference.py: every runtime of one model, where a frame's time goes, predict.py end to end."""
import os

from benchmarks import inference
from conftest import write_png
from test_predict import street


def test_the_benchmark_times_every_runtime_and_says_where_a_frames_time_goes(trained_run, tmp_path, capsys):
    folder = tmp_path / 'frames'
    for i in range(3):
        write_png(str(folder / ('f%d.png' % i)), street((64, 96), i))
    inference.main_(['--model', os.path.join(trained_run[1], 'model'), '--images', str(folder), '--repeats', '1',
                     '--anchor-dir', str(tmp_path / 'no-anchor')])
    out = capsys.readouterr().out
    for runtime in ('TensorFlow (float32)', 'ONNX Runtime (float32)', 'TFLite (float32)', 'TFLite int8 (calibrated)'):
        assert '| %s |' % runtime in out and 'predict.py --model <%s> frames.mp4: 3 frames' % runtime in out
    assert 'The anchor is skipped' in out
    assert 'OpenVINO skipped' in out or '| OpenVINO (float32) |' in out     # the tiny FCN-8s is refused by OpenVINO
    stages = next(line for line in out.splitlines() if line.startswith('One frame of frames.mp4'))
    assert all(stage in stages for stage in ('decode', 'network', 'paint', 'write'))


def test_an_openvino_ir_weighs_its_xml_and_its_weights(tmp_path):
    from benchmarks import inference
    (tmp_path / 'road.xml').write_bytes(b'x' * 1000)
    (tmp_path / 'road.bin').write_bytes(b'x' * 2000000)
    (tmp_path / 'road.onnx').write_bytes(b'x' * 3000)
    assert inference.model_megabytes(str(tmp_path / 'road.xml')) == 2.001
    assert inference.model_megabytes(str(tmp_path / 'road.onnx')) == 0.003
