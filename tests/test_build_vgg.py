import logging
import os

import pytest

from fcnroad.models import build_vgg


def test_a_missing_weights_file_is_refused_as_the_flag_is_read_and_nothing_is_written(tmp_path):
    out = tmp_path / 'vgg'
    with pytest.raises(SystemExit, match=r'--weights-h5: .*none\.h5: no such file$'):
        build_vgg.main(['--out', str(out), '--weights-h5', str(tmp_path / 'none.h5')])
    assert not os.path.exists(out)


def test_an_unreadable_weights_file_names_the_file(tmp_path, caplog):
    bad = tmp_path / 'vgg16.h5'
    bad.write_bytes(b'not hdf5')
    with caplog.at_level(logging.ERROR):
        assert build_vgg.main(['--out', str(tmp_path / 'vgg'), '--weights-h5', str(bad)]) == 2
    assert 'vgg16.h5: not a readable HDF5 weights file' in caplog.text
    assert not os.path.exists(tmp_path / 'vgg')
