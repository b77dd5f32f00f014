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
import argparse
import contextlib
import os
import sys

from fcnroad import errors

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


class Parser(argparse.ArgumentParser):
    """argparse's parser that refuses a setting with a ConfigError (one line, exit status 1 at the command line).

    It keeps every option it was given in `options` (groups' too), so a test can walk them all
    and try each one's invalid values.  Each Range or path type shows its rule in the help.
    """

    def __init__(self, *args, **kwargs):
        self.options = []
        super().__init__(*args, **kwargs)

    def add_argument(self, *args, **kwargs):
        return self.options_add(super().add_argument, args, kwargs)

    def add_argument_group(self, *args, **kwargs):
        group = super().add_argument_group(*args, **kwargs)
        add = group.add_argument
        group.add_argument = lambda *a, **k: self.options_add(add, a, k)    # its options are recorded too
        return group

    def options_add(self, add, args, kwargs):
        rule = kwargs.get('type')
        if isinstance(rule, (Range, Path)):
            kwargs['help'] = ('%s (%s)' % (kwargs['help'], rule)) if kwargs.get('help') else str(rule)
        default = kwargs.get('default')
        # Each help states its default once: the value, unless the help says it in words (the shipped model, a
        # dataset's) or there is none to state (a switch off, an optional value).
        if not (default is None or default is False or default == argparse.SUPPRESS) \
                and 'default:' not in (kwargs.get('help') or ''):
            shown = ' '.join(map(str, default)) if isinstance(default, (list, tuple)) else default
            kwargs['help'] = ('%s (default: %s)' % (kwargs['help'], shown)) if kwargs.get('help') \
                else 'default: %s' % shown
        action = add(*args, **kwargs)
        self.options.append(action)
        return action

    def error(self, message):
        raise errors.ConfigError('%s: %s' % (self.prog, message))


class Range:
    """A number flag's valid values, stated beside its definition: parses, checks, and describes itself.

    Range(int, 1) is 1 or more; Range(float, 0, 1, low_open=True) is in (0, 1]; Range(int, 32,
    multiple=32) is 32, 64, ...
    """

    def __init__(self, kind, low=None, high=None, low_open=False, high_open=False, multiple=None):
        self.kind, self.low, self.high, self.low_open, self.high_open = kind, low, high, low_open, high_open
        self.multiple = multiple
        self.__name__ = kind.__name__     # argparse names the type in "invalid int value"

    def __call__(self, text):
        try:
            value = self.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError('%r is not %s' % (text, 'an integer' if self.kind is int else 'a number'))
        if value != value or not self.contains(value):    # NaN is in no range
            raise argparse.ArgumentTypeError('must be %s, not %s' % (self, text))
        return value

    def contains(self, value):
        if self.multiple and value % self.multiple:
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def outside(self):
        """Values just outside the range (for the tests that walk every flag)."""
        step = 1 if self.kind is int else 1e-3
        values = []
        if self.low is not None:
            values.append(self.low if self.low_open else self.low - step)
        if self.high is not None:
            values.append(self.high if self.high_open else self.high + step)
        if self.multiple:
            values.append((self.low or 0) + self.multiple + 1)
        return [self.kind(v) for v in values]

    def __str__(self):
        if self.multiple:
            return 'a multiple of %s, at least %s' % (self.multiple, self.low)
        if self.low is not None and self.high is not None:
            return 'in %s%s, %s%s' % ('(' if self.low_open else '[', self.low, self.high, ')' if self.high_open else ']')
        if self.low is not None:
            return '%s %s' % ('above' if self.low_open else 'at least', self.low)
        return '%s %s' % ('below' if self.high_open else 'at most', self.high)


class Path:
    """A path flag that must already exist: a folder, a file, or either."""

    KINDS = {'folder': os.path.isdir, 'file': os.path.isfile, 'path': os.path.exists}

    def __init__(self, kind='path'):
        self.kind, self.exists = kind, self.KINDS[kind]
        self.__name__ = kind

    def __call__(self, text):
        if not self.exists(text):
            raise argparse.ArgumentTypeError('%s: no such %s' % (text, self.kind if self.kind != 'path' else 'file or folder'))
        return text

    def __str__(self):
        return 'an existing %s' % (self.kind if self.kind != 'path' else 'file or folder')
