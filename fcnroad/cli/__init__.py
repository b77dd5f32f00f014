"""The command lines (evaluate, predict, export, serve, regions, build_vgg; the fcn8-* console commands).

Below this package the code raises fcnroad.errors exceptions; here, and in main.py, they become
the one-line messages and exit codes users see (errors_as_exit).
"""
import contextlib

from fcnroad import errors


@contextlib.contextmanager
def errors_as_exit():
    """Inside, the package's errors (fcnroad.errors) end the command with their one line and exit status."""
    try:
        yield
    except errors.Stopped as e:
        raise SystemExit(e.exit_code) from None
    except errors.Error as e:
        raise SystemExit(e.one_line()) from None
