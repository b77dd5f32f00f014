"""What can go wrong that the user can put right, as exceptions the package raises.

Library code raises these; only the command lines (main.py, fcnroad/cli/) turn them into the
one-line message and exit status a user sees (cli.errors_as_exit).  Each message names
the flag or the file to change.
"""


class Error(Exception):
    """A problem the user can fix; str() is the message, one line."""

    prefix = ''
    exit_code = 1

    def one_line(self):
        return self.prefix + str(self)


class ConfigError(Error, ValueError):
    """A setting: a flag, a recipe, or a saved run's run_args.json."""


class DataError(Error, ValueError):
    """A data file or folder: missing, unreadable, or not what its dataset needs."""

    prefix = 'data error: '


class ModelError(Error, ValueError):
    """A model: a run's SavedModel, an export, or pretrained weights."""


class Stopped(Error):
    """The run stopped on a signal; its exit status is the shell's 128 + the signal's number."""

    def __init__(self, message, signal_number):
        super().__init__(message)
        self.exit_code = 128 + signal_number


class RunError(Error):
    """A training run that cannot go on (disk full, a worker lost, a divergence); the message says how to resume."""


class Skipped(Error):
    """The command did its work but left out inputs that do not read (named in the message); exit status 1."""
