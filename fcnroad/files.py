"""Files that are complete or absent: written under a temporary name, then renamed."""
import json
import os


def write_json_atomic(path, data):
    """Write JSON under a temporary name, then rename: readers see the old file or the new one."""
    tmp = path + '.tmp'
    try:
        with open(tmp, 'w') as f:
            json.dump(data, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:   # a value JSON cannot hold, a full disk: no half-written file left behind
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
