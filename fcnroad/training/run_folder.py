"""Run folders: runs/<timestamp>[-N], written as .partial and renamed only when complete."""
import os
import time

from fcnroad import errors

RUN_ARGS = 'run_args.json'
METRICS = 'metrics.json'   # written last: a run folder holding it, not .partial, is finished
PARTIAL = '.partial'


def new_run_folder(runs_dir, stamp=None):
    """(staging, final) of a new runs/<timestamp>[-N]: unique even for runs started in the same second.

    mkdir is atomic, so of two runs that pick one name only one creates it; the other takes the next N.
    """
    os.makedirs(runs_dir, exist_ok=True)
    base = os.path.join(runs_dir, stamp or time.strftime('%Y%m%d-%H%M%S'))
    for n in range(1, 10000):
        run_dir = base if n == 1 else '%s-%d' % (base, n)
        if os.path.exists(run_dir):
            continue
        try:
            os.mkdir(run_dir + PARTIAL)
        except FileExistsError:
            continue
        return run_dir + PARTIAL, run_dir
    raise errors.ConfigError('--runs-dir %s: no free run folder name for %s' % (runs_dir, base))


def open_run_folder(runs_dir, resume=None):
    """(staging, final) folders of a run: a new runs/<ts>.partial, or the one being resumed."""
    if not resume:
        return new_run_folder(runs_dir)
    if resume.endswith(PARTIAL):
        return resume, resume[:-len(PARTIAL)]
    # A finished run (one that diverged, or one given more --epochs) is partial again until it ends.
    os.replace(resume, resume + PARTIAL)
    return resume + PARTIAL, resume


def is_finished(run_dir):
    """A run folder that is not .partial and holds metrics.json, the file written last."""
    return not os.path.normpath(run_dir).endswith(PARTIAL) and os.path.isfile(os.path.join(run_dir, METRICS))
