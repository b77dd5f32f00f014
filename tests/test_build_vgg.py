import logging
import os

import numpy as np
import pytest

from fcnroad.cli import build_vgg
from fcnroad.models import encoders, vgg, vgg_saved_model
from conftest import TINY_DEPTH_SCALE, TINY_FC_DEPTH, tiny_vgg_weights


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


def test_a_narrower_fc_depth_writes_fresh_fc6_fc7_of_that_width(tmp_path, monkeypatch):
    shapes = vgg.expected_shapes(fc_depth=TINY_FC_DEPTH, depth_scale=TINY_DEPTH_SCALE)
    given = tiny_vgg_weights(seed=5, with_fc=True)      # a source with fc weights: too wide, left out
    monkeypatch.setattr(vgg, 'get_weights', lambda h5, cache, s: (given, 'test'))
    out = vgg_saved_model.build(str(tmp_path / 'vgg'), shapes=shapes, fc_depth=TINY_FC_DEPTH // 2)
    weights = encoders.read_vgg_saved_model(out)
    assert vgg.fresh_layers(out) == {'fc6', 'fc7'} and 'fc6' not in weights
    np.testing.assert_array_equal(weights['conv5_3'][0], given['conv5_3'][0])
    import tensorflow as tf
    saved = tf.train.load_checkpoint(os.path.join(out, 'variables', 'variables')).get_variable_to_shape_map()
    assert saved['fc6/weights'] == [7, 7, shapes['conv5_3'][0][-1], TINY_FC_DEPTH // 2]
    assert saved['fc7/weights'] == [1, 1, TINY_FC_DEPTH // 2, TINY_FC_DEPTH // 2]
