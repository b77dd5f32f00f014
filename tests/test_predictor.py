import pytest

from fcnroad.serving import predictor
from conftest import write_png
from test_predict import street


def test_same_name_from_two_folders_is_refused(tmp_path):
    for folder in ('a', 'b'):
        write_png(str(tmp_path / folder / 'x.png'), street((32, 32), 0))
    with pytest.raises(predictor.InputError, match='would both be written as x'):
        predictor.find_inputs([str(tmp_path / 'a'), str(tmp_path / 'b')])
