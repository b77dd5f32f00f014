"""Files that are complete or absent: written under a temporary name, then renamed, after checking the space."""
import json
import os
import shutil


def write_bytes_atomic(path, data):
    """Write data under a temporary name, then rename: readers see the old file or the new one."""
    tmp = path + '.tmp'
    try:
        with open(tmp, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:   # a full disk, an interrupt: no half-written file left behind
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json_atomic(path, data):
    """write_bytes_atomic of data as indented JSON (a value JSON cannot hold fails before anything is written)."""
    write_bytes_atomic(path, json.dumps(data, indent=2).encode())


class DiskFull(OSError):
    """Too little free space for a file about to be written; the message names the folder and the sizes."""


def free_bytes(path):
    """Free space for an unprivileged writer on the file system holding path (or its nearest existing parent)."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return shutil.disk_usage(path).free


def check_free_space(folder, needed, what):
    """DiskFull unless folder's file system has `needed` bytes free for `what` (a checkpoint, the model)."""
    free = free_bytes(folder)
    if free < needed:
        raise DiskFull('%s: %s needs %s, %s free' % (folder, what, megabytes(needed), megabytes(free)))


def megabytes(size):
    return '%.1f GB' % (size / 1e9) if size >= 1e9 else '%.0f MB' % (size / 1e6)
