"""pip install gives working console commands, run away from the repository."""
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT

# What the wheel is built from: the project's own files (not data/, runs/ or a virtual environment).
SOURCES = ('pyproject.toml', 'setup.py', 'README.md', 'LICENSE', 'requirements.txt', 'main.py', 'helper.py',
           'project_tests.py', 'fcnroad')
COMMANDS = {'fcn8-train': '--data-dir', 'fcn8-evaluate': '--model', 'fcn8-predict': '--class-map',
            'fcn8-build-vgg': '--fetch-only', 'fcn8-export': '--version', 'fcn8-serve': '--max-bytes',
            'fcn8-regions': '--proposal-scales'}


def can_build_wheels():
    if importlib.util.find_spec('setuptools') is None:
        return False
    import setuptools
    major, minor = (int(p) for p in setuptools.__version__.split('.')[:2])
    # setuptools builds wheels by itself from 70.1; before, it needs the wheel package.
    return (major, minor) >= (70, 1) or importlib.util.find_spec('wheel') is not None


@pytest.mark.skipif(not can_build_wheels(), reason='needs setuptools >= 70.1 (or setuptools and wheel) to build '
                                                   'the wheel without downloading them')
def test_the_wheel_installs_the_package_and_console_commands_that_run_anywhere(tmp_path):
    source = tmp_path / 'source'
    source.mkdir()
    for name in SOURCES:
        path = os.path.join(ROOT, name)
        if os.path.isdir(path):
            shutil.copytree(path, str(source / name), ignore=shutil.ignore_patterns('__pycache__'))
        else:
            shutil.copy(path, str(source / name))
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--quiet',
                    str(source), '-w', str(tmp_path / 'wheel')], check=True, cwd=str(tmp_path))
    wheel, = os.listdir(tmp_path / 'wheel')
    with zipfile.ZipFile(str(tmp_path / 'wheel' / wheel)) as archive:
        metadata, = [n for n in archive.namelist() if n.endswith('.dist-info/METADATA')]
        requires = [line.split(':', 1)[1].strip() for line in archive.read(metadata).decode().splitlines()
                    if line.startswith('Requires-Dist:')]
    core = [r for r in requires if 'extra ==' not in r]
    assert any(r.startswith('tensorflow') for r in core)
    assert [r for r in core if r.split('>')[0].split('=')[0].strip() in ('pytest', 'selenium', 'fastapi', 'tf2onnx')] == []
    assert any(r.startswith('onnx>') for r in core)     # the VGG16's ImageNet weights are read from an ONNX file
    assert any(r.startswith('pytest') and 'extra == "test"' in r for r in requires)
    site = tmp_path / 'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '--quiet', '--target', str(site),
                    str(tmp_path / 'wheel' / wheel)], check=True, cwd=str(tmp_path))
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site))
    for command, flag in COMMANDS.items():
        done = subprocess.run([str(site / 'bin' / command), '--help'], capture_output=True, text=True,
                              cwd=str(elsewhere), env=env)
        assert done.returncode == 0, '%s: %s' % (command, done.stderr[-2000:])
        assert flag in done.stdout
    import fcnroad
    done = subprocess.run([sys.executable, '-c', 'import fcnroad; print(fcnroad.__version__, fcnroad.__file__)'],
                          capture_output=True, text=True, cwd=str(elsewhere), env=env)
    version, package_file = done.stdout.split()
    assert version == fcnroad.__version__ and package_file.startswith(str(site))    # the installed copy, not ROOT's
    # The tutorial's modules are fcn8-train's files, not top-level modules of the environment.
    assert not [name for name in os.listdir(site) if name in ('main.py', 'helper.py', 'project_tests.py')]
    assert sorted(n for n in os.listdir(site / 'fcnroad' / 'tutorial') if n.endswith('.py')) == [
        'helper.py', 'main.py', 'project_tests.py']
    done = subprocess.run([sys.executable, '-c', 'import main'], capture_output=True, text=True,
                          cwd=str(elsewhere), env=env)
    assert done.returncode != 0 and 'ModuleNotFoundError' in done.stderr
