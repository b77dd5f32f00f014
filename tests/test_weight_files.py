"""fcnroad/models/weight_files.py: numpy pickles and PyTorch files (zip and legacy) read without running what they name."""
import os
import pickle

import numpy as np
import pytest

from conftest import write_torch_legacy
from fcnroad.models import weight_files


class RunsCode:
    def __reduce__(self):
        return os.system, ('echo this must never run',)


def test_a_numpy_pickle_reads_back_its_arrays(tmp_path):
    path = str(tmp_path / 'w.pkl')
    arrays = {'conv1': [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(3, np.float32)]}
    with open(path, 'wb') as f:
        pickle.dump(arrays, f)
    got = weight_files.read_numpy_pickle(path)
    np.testing.assert_array_equal(got['conv1'][0], arrays['conv1'][0])
    assert got['conv1'][1].dtype == np.float32


def test_a_pickle_that_names_other_code_is_refused_unrun(tmp_path, capfd):
    path = str(tmp_path / 'evil.pkl')
    with open(path, 'wb') as f:
        pickle.dump({'conv1': RunsCode()}, f)
    with pytest.raises(weight_files.WeightFileError, match='evil.pkl: .*refused global (posix|os|nt).system'):
        weight_files.read_numpy_pickle(path)
    assert 'must never run' not in capfd.readouterr().out


def test_a_legacy_torch_file_reads_strided_and_scalar_tensors(tmp_path):
    rng = np.random.RandomState(0)
    state = {'conv.weight': rng.normal(0, 1, (4, 3, 2, 5)).astype(np.float32),   # stored HWIO-major, OIHW strides
             'bn.running_var': rng.uniform(0, 1, 4).astype(np.float32),
             'fc.weight': rng.normal(0, 1, (3, 4)).astype(np.float32),
             'bn.num_batches_tracked': np.array(12, np.int64)}
    got = weight_files.read_torch_legacy(write_torch_legacy(str(tmp_path / 'm.pth'), state))
    assert list(got) == list(state)
    for name, value in state.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)
        assert got[name].dtype == value.dtype and got[name].flags['C_CONTIGUOUS']


def test_a_truncated_or_foreign_file_is_a_one_line_error(tmp_path):
    path = write_torch_legacy(str(tmp_path / 'm.pth'), {'w': np.ones((50, 50), np.float32)})
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:-100])
    with pytest.raises(weight_files.WeightFileError, match='m.pth: not a legacy PyTorch state dict .*file ends'):
        weight_files.read_torch_legacy(path)
    other = str(tmp_path / 'o.pth')
    with open(other, 'wb') as f:
        pickle.dump({'w': 1}, f)
    with pytest.raises(weight_files.WeightFileError, match='o.pth: .*magic number'):
        weight_files.read_torch_legacy(other)


def test_a_zip_format_torch_file_reads_as_the_legacy_one_does(tmp_path):
    rng = np.random.RandomState(1)
    state = {'conv.weight': rng.normal(0, 1, (4, 3, 2, 5)).astype(np.float32),
             'bn.num_batches_tracked': np.array(3, np.int64)}
    zipped = write_torch_legacy(str(tmp_path / 'new.pth'), state, zip_format=True)
    legacy = write_torch_legacy(str(tmp_path / 'old.pth'), state)
    for path in (zipped, legacy):
        got = weight_files.read_torch(path)
        assert list(got) == list(state)
        for name, value in state.items():
            np.testing.assert_array_equal(got[name], value, err_msg=path + name)
            assert got[name].dtype == value.dtype


def test_a_zip_format_torch_file_missing_a_storage_or_naming_code_is_a_one_line_error(tmp_path, capfd):
    import zipfile
    path = write_torch_legacy(str(tmp_path / 'cut.pth'), {'w': np.ones((5, 5), np.float32)}, zip_format=True)
    kept = str(tmp_path / 'kept.pth')
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(kept, 'w') as dst:
        for name in src.namelist():
            if '/data/' not in name:
                dst.writestr(name, src.read(name))
    with pytest.raises(weight_files.WeightFileError, match='kept.pth: not a PyTorch state dict .*data/1000'):
        weight_files.read_torch(kept)
    evil = str(tmp_path / 'evil.pth')
    with zipfile.ZipFile(evil, 'w') as archive:
        archive.writestr('archive/data.pkl', pickle.dumps({'w': RunsCode()}, protocol=2))
    with pytest.raises(weight_files.WeightFileError, match='evil.pth: .*refused global (posix|os|nt).system'):
        weight_files.read_torch(evil)
    assert 'must never run' not in capfd.readouterr().out
