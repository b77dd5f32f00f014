"""Files that are complete or absent: written under a temporary name, then renamed."""
import json
import os


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
