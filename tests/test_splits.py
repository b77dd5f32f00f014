import os
import shutil

import pytest

from fcnroad import errors
from fcnroad.data import registry
from fcnroad.training import options, splits
from conftest import make_kitti


@pytest.fixture
def kitti_with_a_bad_mask(tmp_path):
    root = make_kitti(str(tmp_path), n_train=6, n_test=2, shape=(32, 64))
    bad = os.path.join(root, 'data_road', 'training', 'gt_image_2', 'um_road_000002.png')
    with open(bad, 'wb') as f:
        f.write(b'not a png')
    return root, bad


def test_a_bad_file_stops_in_one_line_naming_it_and_skip_bad_leaves_it_out(kitti_with_a_bad_mask, capsys):
    root, bad = kitti_with_a_bad_mask
    args, _ = options.resolve(['--data-dir', root, '--val-fraction', '0.34', '--image-shape', '32', '64'])
    with pytest.raises(errors.DataError, match=r'um_road_000002.png: cannot read image') as stopped:
        splits.training_data(args, root, (32, 64))
    assert stopped.value.one_line().startswith('data error: ') and '\n' not in stopped.value.one_line()
    args, _ = options.resolve(['--data-dir', root, '--val-fraction', '0.34', '--image-shape', '32', '64',
                               '--skip-bad-data'])
    data = splits.training_data(args, root, (32, 64))
    assert [label for (_, label), _ in data.bad] == [bad]
    assert len(data.train) + len(data.val) == 5
    assert bad not in [label for _, label in data.train.pairs + data.val.pairs]
    assert 'left out' in capsys.readouterr().err


def test_kitti_paints_its_test_images_or_else_the_validation_images(tmp_path, capsys):
    root = make_kitti(str(tmp_path), n_train=4, n_test=2, shape=(32, 64))
    train, val = registry.load('kitti', root, val_fraction=0.5)
    assert [os.path.basename(p) for p in splits.samples_to_paint('kitti', root, val)] == ['um_000004.png',
                                                                                         'um_000005.png']
    shutil.rmtree(os.path.join(root, 'data_road', 'testing'))
    assert splits.samples_to_paint('kitti', root, val) == [image for image, _ in val.pairs]
    assert 'testing/image_2: no such folder (KITTI test images); the 2 validation images are painted instead' \
        in capsys.readouterr().out.replace(os.sep, '/')
