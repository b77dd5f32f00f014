"""fcn8-train: the tutorial's main.run().  main.py, helper.py and project_tests.py are the real code at the
repository's top; an installed copy keeps them as files of fcnroad/tutorial/ (setup.py), not as
top-level modules, and this command puts that folder first on its own path to run them."""
import importlib
import os
import sys

from fcnroad import errors

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TUTORIAL_MODULES = ('main.py', 'helper.py', 'project_tests.py')


def tutorial_folder():
    """fcnroad/tutorial/ of an installed copy, else the repository holding fcnroad/."""
    for folder in (os.path.join(PACKAGE, 'tutorial'), os.path.dirname(PACKAGE)):
        if all(os.path.isfile(os.path.join(folder, name)) for name in TUTORIAL_MODULES):
            return folder
    raise errors.ConfigError('%s: no main.py, helper.py and project_tests.py in %s or beside it; reinstall the '
                             'package' % (PACKAGE, os.path.join(PACKAGE, 'tutorial')))


def main(argv=None):
    folder = tutorial_folder()
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module('main').run(argv)


if __name__ == '__main__':
    main()
