import logging
import os

from fcnroad.models import build_vgg


def test_a_missing_weights_file_is_one_logged_line_exit_2_and_nothing_written(tmp_path, caplog):
    out = tmp_path / 'vgg'
    with caplog.at_level(logging.ERROR):
        assert build_vgg.main(['--out', str(out), '--weights-h5', str(tmp_path / 'none.h5')]) == 2
    assert [r.getMessage() for r in caplog.records] == ['%s: no such weights file' % (tmp_path / 'none.h5')]
    assert not os.path.exists(out)


def test_an_unreadable_weights_file_names_the_file(tmp_path, caplog):
    bad = tmp_path / 'vgg16.h5'
    bad.write_bytes(b'not hdf5')
    with caplog.at_level(logging.ERROR):
        assert build_vgg.main(['--out', str(tmp_path / 'vgg'), '--weights-h5', str(bad)]) == 2
    assert 'vgg16.h5: not a readable HDF5 weights file' in caplog.text
    assert not os.path.exists(tmp_path / 'vgg')
