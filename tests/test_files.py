"""fcnroad/files.py: a JSON file is the old one or the new one, never half of one."""
import json
import os

import pytest

from fcnroad import files


def test_write_json_atomic_replaces_the_file_whole(tmp_path):
    path = str(tmp_path / 'metrics.json')
    files.write_json_atomic(path, {'road_iou': 0.5})
    files.write_json_atomic(path, {'road_iou': 0.75, 'epochs': [1, 2]})
    with open(path) as f:
        assert json.load(f) == {'road_iou': 0.75, 'epochs': [1, 2]}
    assert os.listdir(tmp_path) == ['metrics.json']


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_one(tmp_path):
    path = str(tmp_path / 'metrics.json')
    files.write_json_atomic(path, {'road_iou': 0.5})
    with pytest.raises(TypeError):
        files.write_json_atomic(path, {'road_iou': 0.75, 'not json': object()})   # fails halfway through
    with open(path) as f:
        assert json.load(f) == {'road_iou': 0.5}
    assert os.listdir(tmp_path) == ['metrics.json']
