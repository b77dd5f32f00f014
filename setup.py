"""setuptools' one build step pyproject.toml cannot state: the tutorial's modules (main.py, helper.py,
project_tests.py: the real code, at the repository's top) go into the wheel as files of
fcnroad/tutorial/, where fcn8-train runs them, instead of as top-level modules named main and helper
in whatever environment installs the package."""
import os

from setuptools import setup
from setuptools.command.build_py import build_py

TUTORIAL_MODULES = ('main.py', 'helper.py', 'project_tests.py')


class BuildPy(build_py):
    def run(self):
        super().run()
        target = os.path.join(self.build_lib, 'fcnroad', 'tutorial')
        self.mkpath(target)
        for name in TUTORIAL_MODULES:
            self.copy_file(name, os.path.join(target, name))


setup(cmdclass={'build_py': BuildPy})
