"""fcnroad/serving/predictor.py: inputs found, the pipeline's order and failures, pipelined = sequential."""
import os
import threading

import imageio.v2 as imageio
import numpy as np
import pytest

from fcnroad.serving import predictor
from conftest import write_png
from test_predict import street, write_video


def test_same_name_from_two_folders_is_refused(tmp_path):
    for folder in ('a', 'b'):
        write_png(str(tmp_path / folder / 'x.png'), street((32, 32), 0))
    with pytest.raises(predictor.InputError, match='would both be written as x'):
        predictor.find_inputs([str(tmp_path / 'a'), str(tmp_path / 'b')])


def test_pipelined_keeps_the_order_and_gives_what_one_thread_gives():
    calls = []
    out_threaded, out_sequential = [], []
    predictor.pipelined(iter(range(50)), lambda x: (calls.append(x), x * x)[1],
                        lambda x, y: out_threaded.append((x, y)))
    predictor.pipelined(iter(range(50)), lambda x: x * x, lambda x, y: out_sequential.append((x, y)), threads=False)
    assert out_threaded == out_sequential == [(x, x * x) for x in range(50)] and calls == list(range(50))


@pytest.mark.parametrize('side', ['source', 'work', 'sink'])
def test_a_failure_on_any_side_is_raised_and_no_thread_is_left_waiting(side):
    def source():
        for i in range(100):
            if side == 'source' and i == 7:
                raise ValueError('bad frame 7')
            yield i

    def work(x):
        if side == 'work' and x == 7:
            raise ValueError('bad frame 7')
        return x

    def sink(x, y):
        if side == 'sink' and x == 7:
            raise ValueError('bad frame 7')

    before = threading.active_count()
    with pytest.raises(ValueError, match='bad frame 7'):
        predictor.pipelined(source(), work, sink)
    assert threading.active_count() == before


def test_pipelined_predict_writes_what_sequential_predict_writes_for_a_folder_and_a_video(trained_run, tmp_path):
    model = predictor.Predictor(os.path.join(trained_run[1], 'model'))
    try:
        paths = []
        for i, shape in enumerate(((61, 93), (61, 93), (75, 121), (61, 93), (61, 93))):   # sizes change mid-way
            paths.append(str(tmp_path / 'in' / ('p%d.png' % i)))
            write_png(paths[-1], street(shape, i))
        video = str(tmp_path / 'in' / 'clip.mp4')
        write_video(video, [street((48, 80), i) for i in range(7)], fps=5)
        for threads in (True, False):
            out = str(tmp_path / ('out-%s' % threads))
            os.makedirs(out)
            assert predictor.predict_images(model, paths, out, class_map=True, batch_size=2, threads=threads) == 5
            assert predictor.predict_video(model, video, out, class_map=True, batch_size=3, threads=threads) == 7
    finally:
        model.close()
    threaded, sequential = str(tmp_path / 'out-True'), str(tmp_path / 'out-False')
    names = sorted(os.listdir(threaded))
    assert names == sorted(os.listdir(sequential)) and len(names) == 12    # 5 overlays, 5 maps, mp4, maps folder
    for name in names:
        if name.endswith('.png'):
            np.testing.assert_array_equal(imageio.imread(os.path.join(threaded, name)),
                                          imageio.imread(os.path.join(sequential, name)))
    for i in range(7):
        frame = os.path.join('clip_classes', '%06d.png' % i)
        np.testing.assert_array_equal(imageio.imread(os.path.join(threaded, frame)),
                                      imageio.imread(os.path.join(sequential, frame)))
