import os
import subprocess
import sys

import imageio.v2 as imageio
import numpy as np
import pytest

from fcnroad.data import arrays
import helper
import predict
from fcnroad.serving.predictor import Predictor
from conftest import ROOT, write_png

# Sizes no network stride divides, as real photos and KITTI's 1242x375.
ODD_SIZES = ((61, 93), (61, 93), (75, 121))


def street(shape, seed):
    """Sky above a random horizon, asphalt below: what the tiny model learnt to split."""
    rng = np.random.RandomState(seed)
    h, w = shape
    horizon = rng.randint(h // 3, 2 * h // 3)
    image = np.empty((h, w, 3), np.uint8)
    image[:horizon] = (90, 160, 230)
    image[horizon:] = (70, 70, 70)
    return np.clip(image + rng.randint(-10, 10, image.shape), 0, 255).astype(np.uint8)


def assert_green_exactly_on_road(overlay, image, classes):
    np.testing.assert_array_equal(overlay, helper.paint(image, classes, {1: helper.ROAD_GREEN}))
    changed = np.any(overlay != image, axis=-1)
    np.testing.assert_array_equal(changed, classes == 1)


@pytest.fixture(scope='module')
def model_dir(trained_run):
    return os.path.join(trained_run[1], 'model')


@pytest.fixture
def odd_folder(tmp_path):
    folder = tmp_path / 'photos'
    for i, shape in enumerate(ODD_SIZES):
        write_png(str(folder / ('photo_%d.png' % i)), street(shape, i))
    return str(folder)


def write_video(path, frames, fps):
    with imageio.get_writer(path, format='FFMPEG', fps=fps, codec='libx264', macro_block_size=1,
                            quality=10, pixelformat='yuv444p') as writer:
        for frame in frames:
            writer.append_data(frame)


def test_folder_of_odd_sized_images_painted_at_their_own_size(model_dir, odd_folder, tmp_path):
    out = str(tmp_path / 'out')
    assert predict.main(['--model', model_dir, odd_folder, '--out', out, '--class-map', '--batch-size', '2']) == 3
    assert sorted(os.listdir(out)) == sorted(['photo_%d%s.png' % (i, s) for i in range(3) for s in ('', '_classes')])
    for i, shape in enumerate(ODD_SIZES):
        image = arrays.read_png(os.path.join(odd_folder, 'photo_%d.png' % i))
        overlay = imageio.imread(os.path.join(out, 'photo_%d.png' % i))
        classes = imageio.imread(os.path.join(out, 'photo_%d_classes.png' % i))
        assert overlay.shape == shape + (3,) and classes.shape == shape
        assert 0.2 < classes.mean() < 0.8        # both sky and road found
        assert_green_exactly_on_road(overlay, image, classes)


def test_single_image_and_glob_inputs(model_dir, odd_folder, tmp_path):
    out = str(tmp_path / 'out')
    predict.main(['--model', model_dir, os.path.join(odd_folder, 'photo_0.png'),
                  os.path.join(odd_folder, 'photo_[12].png'), '--out', out])
    assert sorted(os.listdir(out)) == ['photo_0.png', 'photo_1.png', 'photo_2.png']


@pytest.mark.parametrize('shape', [(64, 98), (63, 97)], ids=['even', 'odd'])
def test_video_keeps_frame_rate_frame_count_and_size(model_dir, tmp_path, shape):
    frames = [street(shape, i) for i in range(5)]
    video = str(tmp_path / 'dashcam.mp4')
    write_video(video, frames, fps=12)
    out = str(tmp_path / 'out')
    assert predict.main(['--model', model_dir, video, '--out', out, '--class-map', '--batch-size', '2']) == 5
    assert sorted(os.listdir(out)) == ['dashcam.mp4', 'dashcam_classes']
    reader = imageio.get_reader(os.path.join(out, 'dashcam.mp4'), format='FFMPEG')
    assert reader.get_meta_data()['fps'] == 12
    painted = [np.asarray(f) for f in reader]
    reader.close()
    decoded = [np.asarray(f) for f in imageio.get_reader(video, format='FFMPEG')]
    assert len(painted) == 5 and all(f.shape == shape + (3,) for f in painted)
    maps = sorted(os.listdir(os.path.join(out, 'dashcam_classes')))
    assert maps == ['%06d.png' % i for i in range(5)]
    for frame, overlay, name in zip(decoded, painted, maps):
        classes = imageio.imread(os.path.join(out, 'dashcam_classes', name))
        assert classes.shape == shape and 0.2 < classes.mean() < 0.8
        # The video is compressed: the overlay is the paint only up to codec noise, so the
        # check is that green went up where the class map says road, and only there.
        green_gain = overlay[..., 1].astype(int) - frame[..., 1]
        assert green_gain[classes == 1].mean() > 50 and np.abs(green_gain[classes == 0]).mean() < 10
        assert np.abs(overlay.astype(int) - helper.paint(frame, classes, {1: helper.ROAD_GREEN})).mean() < 8


def test_bad_inputs_are_named_and_leave_nothing(model_dir, tmp_path):
    out = tmp_path / 'out'
    notes = tmp_path / 'notes.txt'
    notes.write_text('hello')
    empty = tmp_path / 'empty'
    empty.mkdir()
    broken_png = tmp_path / 'broken.png'
    broken_png.write_bytes(b'not a png')
    broken_mp4 = tmp_path / 'broken.mp4'
    broken_mp4.write_bytes(b'not a video')
    cases = [(str(notes), r"notes\.txt: unknown extension '\.txt'"),
             (str(empty), 'empty: folder holds no images'),
             (str(tmp_path / 'nothing_*.png'), r'nothing_\*\.png: no file matches'),
             (str(tmp_path / 'missing.png'), r'missing\.png: no such file'),
             (str(broken_png), r'broken\.png: cannot read image'),
             (str(broken_mp4), r'broken\.mp4: cannot read video')]
    for item, message in cases:
        with pytest.raises(SystemExit, match=message):
            predict.main(['--model', model_dir, item, '--out', str(out), '--strict'])
        assert not out.exists() or os.listdir(out) == []


def test_one_unreadable_file_is_skipped_the_rest_painted_and_the_exit_says_so(model_dir, odd_folder, tmp_path,
                                                                              capsys):
    with open(os.path.join(odd_folder, 'photo_1.png'), 'wb') as f:
        f.write(b'not a png')
    broken_mp4 = tmp_path / 'broken.mp4'
    broken_mp4.write_bytes(b'not a video')
    out = str(tmp_path / 'out')
    with pytest.raises(SystemExit, match=r'^2 inputs painted, 2 skipped \(unreadable\): .*photo_1\.png, .*broken\.mp4$'):
        predict.main(['--model', model_dir, odd_folder, str(broken_mp4), '--out', out])
    assert sorted(os.listdir(out)) == ['photo_0.png', 'photo_2.png']
    err = capsys.readouterr().err
    assert 'skipped: %s: cannot read image' % os.path.join(odd_folder, 'photo_1.png') in err
    assert 'broken.mp4: cannot read video' in err


def test_folder_that_is_not_a_model_is_a_clear_error(tmp_path, odd_folder):
    with pytest.raises(SystemExit, match='not a saved FCN-8 model'):
        predict.main(['--model', str(tmp_path), odd_folder, '--out', str(tmp_path / 'out')])
    with pytest.raises(SystemExit, match='nope: no such file or folder'):
        predict.main(['--model', str(tmp_path / 'nope'), odd_folder, '--out', str(tmp_path / 'out')])


def test_predict_runs_as_a_command(model_dir, odd_folder, tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'predict.py'), '--model', model_dir, odd_folder,
                             '--out', str(tmp_path / 'out')], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert 'images/s' in result.stdout and len(os.listdir(tmp_path / 'out')) == 3


def test_flip_tta_changes_nothing_on_a_mirror_symmetric_scene_and_keeps_sizes(model_dir, tmp_path):
    image = street((61, 93), 11)
    symmetric = np.concatenate([image[:, :47], image[:, :46][:, ::-1]], axis=1)
    plain, flipped, tta = Predictor(model_dir), Predictor(model_dir, flip=True), \
        Predictor(model_dir, flip=True, scales=(1.0, 1.5))
    try:
        classes, probs = plain(symmetric[None])
        flip_classes, _ = flipped(symmetric[None])
        tta_classes, tta_probs = tta(symmetric[None])
    finally:
        for predictor in (plain, flipped, tta):
            predictor.close()
    assert np.mean(flip_classes == classes) > 0.99
    # another scale is another view (a tiny model is far from scale-invariant): only its shapes are the same
    assert tta_probs.shape == probs.shape and tta_classes.shape == classes.shape == (1, 61, 93)
    np.testing.assert_allclose(tta_probs.sum(-1), 1.0, atol=1e-4)
