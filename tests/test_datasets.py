import os

import numpy as np
import pytest

import datasets
from conftest import make_kitti, write_png


def test_kitti_label_maps_devkit_colours(tmp_path):
    mask = np.zeros((2, 3, 3), np.uint8)
    mask[0, 0] = (255, 0, 255)
    mask[0, 1] = (255, 0, 0)
    write_png(str(tmp_path / 'm.png'), mask)
    label = datasets.kitti_label(str(tmp_path / 'm.png'))
    np.testing.assert_array_equal(label, [[1, 0, datasets.IGNORE], [datasets.IGNORE] * 3])


def test_kitti_label_unknown_colour_names_the_file(tmp_path):
    mask = np.zeros((2, 2, 3), np.uint8)
    mask[1, 1] = (12, 200, 3)
    path = str(tmp_path / 'um_road_000000.png')
    write_png(path, mask)
    with pytest.raises(datasets.DataError, match=r'um_road_000000\.png.*\(12, 200, 3\)'):
        datasets.kitti_label(path)


def test_unreadable_png_names_the_file(tmp_path):
    path = tmp_path / 'broken.png'
    path.write_bytes(b'\x89PNG not really')
    with pytest.raises(datasets.DataError, match='broken.png: cannot read image'):
        datasets.read_png(str(path))


def test_one_hot_gives_zero_rows_for_ignored_pixels():
    label = np.array([[0, 1], [datasets.IGNORE, 1]], np.uint8)
    oh = datasets.one_hot(label, 2)
    np.testing.assert_array_equal(oh, [[[1, 0], [0, 1]], [[0, 0], [0, 1]]])


def test_resize_label_is_nearest_neighbour():
    label = np.zeros((4, 4), np.uint8)
    label[:, 2:] = datasets.IGNORE
    out = datasets.resize_label(label, (7, 9))
    assert set(np.unique(out)) == {0, datasets.IGNORE}
    assert out.shape == (7, 9)


def test_kitti_pairs_image_without_mask(tmp_path):
    root = make_kitti(str(tmp_path), n_train=3, n_test=1)
    training = os.path.join(root, 'data_road', 'training')
    os.remove(os.path.join(training, 'gt_image_2', 'um_road_000001.png'))
    with pytest.warns(UserWarning, match=r'1 of the 3 images .* have no road mask and are left out of '
                                         r'training: um_000001\.png \(expected gt_image_2/um_road_000001\.png\)'):
        pairs = datasets.kitti_pairs(training)
    assert [os.path.basename(i) for i, _ in pairs] == ['um_000000.png', 'um_000002.png']
    with pytest.raises(datasets.DataError, match=r'um_000001\.png: image has no road mask'):
        datasets.kitti_pairs(training, strict=True)


def test_kitti_pairs_mask_without_image_and_missing_folder(tmp_path):
    root = make_kitti(str(tmp_path), n_train=2, n_test=1)
    training = os.path.join(root, 'data_road', 'training')
    os.remove(os.path.join(training, 'image_2', 'um_000000.png'))
    with pytest.raises(datasets.DataError, match=r'um_road_000000\.png: road mask without its image'):
        datasets.kitti_pairs(training)
    with pytest.raises(datasets.DataError, match='nowhere.*no such folder'):
        datasets.kitti_pairs(str(tmp_path / 'nowhere'))


def test_kitti_split_is_stable_disjoint_and_complete(tmp_path):
    root = make_kitti(str(tmp_path), n_train=10, n_test=1)
    a_train, a_val = datasets.split(datasets.kitti_dataset(os.path.join(root, 'data_road')), 0.3)
    ds = datasets.kitti_dataset(os.path.join(root, 'data_road'))
    ds.pairs.reverse()  # the listing order must not matter
    b_train, b_val = datasets.split(ds, 0.3)
    assert a_val.pairs == b_val.pairs and a_train.pairs == b_train.pairs
    assert len(a_val) == 3 and len(a_train) == 7
    assert not set(a_val.pairs) & set(a_train.pairs)


def test_split_keeps_one_for_training_and_one_for_validation(tmp_path):
    root = make_kitti(str(tmp_path), n_train=2, n_test=1)
    train, val = datasets.split(datasets.kitti_dataset(os.path.join(root, 'data_road')), 0.1)
    assert len(train) == 1 and len(val) == 1
    train, val = datasets.split(datasets.kitti_dataset(os.path.join(root, 'data_road')), 0.0)
    assert len(train) == 2 and len(val) == 0


def test_camvid_real_files_have_the_right_label_sets(camvid_real):
    train, val = datasets.load('camvid', camvid_real)
    assert (len(train), len(val)) == (367, 101)
    assert train.num_classes == 11
    seen = set()
    for _, label_path in train.pairs[::40]:
        seen |= set(np.unique(train.read_label(label_path)).tolist())
    assert seen <= set(range(11)) | {datasets.IGNORE}
    assert datasets.CAMVID_ROAD in seen and datasets.IGNORE in seen
    _, road = datasets.load('camvid_road', camvid_real)
    label_path = road.pairs[0][1]
    binary = road.read_label(label_path)
    multi = val.read_label(label_path)
    assert set(np.unique(binary).tolist()) <= {0, 1, datasets.IGNORE}
    np.testing.assert_array_equal(binary == 1, multi == datasets.CAMVID_ROAD)
    np.testing.assert_array_equal(binary == datasets.IGNORE, multi == datasets.IGNORE)


def test_kitti_real_files_load_with_black_pixels_ignored(kitti_real):
    with pytest.warns(UserWarning, match='9 of the 11 images .* have no road mask'):
        ds = datasets.kitti_dataset(os.path.join(kitti_real, 'data_road'))
    assert len(ds) == 2
    label = ds.read_label(ds.pairs[0][1])
    assert set(np.unique(label).tolist()) == {0, 1, datasets.IGNORE}
