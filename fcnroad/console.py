"""What a command shows: TensorFlow's start-up noise hidden unless --verbose.

TensorFlow's C++ side writes to the process's stderr where Python's logging cannot reach:
at import, absl's "All log messages before absl::InitializeLog() is called ..." and "Could
not find cuda drivers" (twice); at the first session, cuInit's failure on a machine without
a GPU.  quiet_tensorflow() imports TensorFlow with file descriptor 2 pointed at /dev/null
and raises TF_CPP_MIN_LOG_LEVEL to 3, so its later C++ lines stay hidden too (an error that
matters reaches Python as an exception, message included) and its Python deprecation notices
are off.  Every entry point calls it first; `--verbose` on the command line shows
everything (a TF_CPP_MIN_LOG_LEVEL of the user's own is kept).
"""
import contextlib
import os
import sys

VERBOSE_FLAG = '--verbose'
VERBOSE_HELP = "show TensorFlow's start-up and C++ log lines (hidden by default)"
LOG_LEVEL_VARIABLE = 'TF_CPP_MIN_LOG_LEVEL'


def verbose(argv=None):
    return VERBOSE_FLAG in (sys.argv[1:] if argv is None else argv)


@contextlib.contextmanager
def native_stderr_hidden(argv=None):
    """File descriptor 2 pointed at /dev/null inside (unless verbose): what C++ libraries print is dropped.

    Python's own errors raised inside are shown once it is back, when they reach the top.
    """
    if verbose(argv):
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_tensorflow(argv=None):
    """Import TensorFlow quietly (unless verbose); True when it did.  Call before anything imports it."""
    if verbose(argv):
        return False
    os.environ.setdefault(LOG_LEVEL_VARIABLE, '3')
    if 'tensorflow' not in sys.modules:
        with native_stderr_hidden(argv):
            import tensorflow  # noqa: F401
    import tensorflow as tf2
    tf2.get_logger().setLevel('ERROR')     # disable_v2_behavior's and compat.v1's deprecation notices
    return True


def add_verbose_flag(parser):
    """--verbose in a command's --help (quiet_tensorflow has read it from sys.argv already)."""
    parser.add_argument(VERBOSE_FLAG, action='store_true', help=VERBOSE_HELP)
