"""fcnroad/data/arrays.py: reading, writing, resizing and one-hot on hand-made arrays."""
import os

import numpy as np
import pytest

from fcnroad.data import arrays


def test_unreadable_png_names_the_file(tmp_path):
    path = tmp_path / 'broken.png'
    path.write_bytes(b'\x89PNG not really')
    with pytest.raises(arrays.DataError, match='broken.png: cannot read image'):
        arrays.read_png(str(path))


def test_one_hot_gives_zero_rows_for_ignored_pixels():
    label = np.array([[0, 1], [arrays.IGNORE, 1]], np.uint8)
    oh = arrays.one_hot(label, 2)
    np.testing.assert_array_equal(oh, [[[1, 0], [0, 1]], [[0, 0], [0, 1]]])


def test_resize_label_is_nearest_neighbour():
    label = np.zeros((4, 4), np.uint8)
    label[:, 2:] = arrays.IGNORE
    out = arrays.resize_label(label, (7, 9))
    assert set(np.unique(out)) == {0, arrays.IGNORE}
    assert out.shape == (7, 9)


def test_median_frequency_weights_known_answer():
    a = np.array([[0, 0, 0, 1]], np.uint8)                 # class 0: 3 of 4, class 1: 1 of 4
    b = np.array([[0, 2, 2, arrays.IGNORE]], np.uint8)   # class 0: 1 of 3, class 2: 2 of 3
    w = arrays.median_frequency_weights([a, b], 4)
    # freq: class 0 4/7, class 1 1/4, class 2 2/3; median 4/7; class 3 never seen.
    np.testing.assert_allclose(w, [1.0, (4 / 7) / (1 / 4), (4 / 7) / (2 / 3), 0.0], rtol=1e-6)


def test_write_image_leaves_the_file_whole_or_absent(tmp_path, monkeypatch):
    path = str(tmp_path / 'out.png')
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    arrays.write_image(path, image)
    np.testing.assert_array_equal(arrays.read_png(path), image)

    def disk_full(target, _):
        with open(target, 'wb') as f:
            f.write(b'half')
        raise OSError('No space left on device')

    monkeypatch.setattr(arrays.imageio, 'imwrite', disk_full)
    with pytest.raises(OSError, match='No space'):
        arrays.write_image(str(tmp_path / 'new.png'), image)
    assert sorted(os.listdir(tmp_path)) == ['out.png']     # no half-written file, under any name
