"""The package's layer contract, read from the source: imports go downwards only, no cycles."""
import ast
import os

import pytest

from conftest import ROOT

# Lowest first: a module may import its own layer and those before it (README: Architecture).
LAYERS = ('errors', 'cpu', 'console', 'files', 'data', 'models', 'evaluation', 'serving', 'training', 'cli')
ENTRY_POINTS = ('main', 'helper', 'project_tests', 'evaluate', 'predict', 'export', 'serve', 'regions')   # the tutorial's face, on top


def package_modules():
    """{dotted name: path} of every module of fcnroad."""
    found = {}
    for folder, _, names in os.walk(os.path.join(ROOT, 'fcnroad')):
        for name in names:
            if name.endswith('.py'):
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path, ROOT)[:-3].replace(os.sep, '.')
                found[dotted[:-len('.__init__')] if dotted.endswith('.__init__') else dotted] = path
    return found


def imported_names(path, modules=()):
    """Every module an import statement of the file names, function-level imports included.

    `from pkg import sub` names the submodule pkg.sub when that is one of `modules`, else pkg.
    """
    names = set()
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                sub = '%s.%s' % (node.module, alias.name)
                names.add(sub if sub in modules else node.module)
    return names


def layer_of(dotted):
    parts = dotted.split('.')
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def internal_imports(modules):
    """{module: set of fcnroad modules it imports}."""
    graph = {}
    for dotted, path in modules.items():
        graph[dotted] = {name for name in imported_names(path, modules) if name in modules and name != dotted}
    return graph


def test_every_module_of_the_package_belongs_to_a_layer():
    modules = package_modules()
    assert 'fcnroad.data.datasets' in modules and 'fcnroad.training.checkpoints' in modules
    assert [m for m in modules if m != 'fcnroad' and layer_of(m) is None] == []


def test_layers_import_only_themselves_and_the_layers_below():
    modules = package_modules()
    upward = []
    for module, targets in internal_imports(modules).items():
        if module == 'fcnroad':
            continue
        for target in targets:
            if target != 'fcnroad' and LAYERS.index(layer_of(target)) > LAYERS.index(layer_of(module)):
                upward.append('%s imports %s' % (module, target))
    assert upward == []


def test_the_package_never_imports_the_entry_points_above_it():
    offenders = ['%s imports %s' % (module, name) for module, path in package_modules().items()
                 for name in imported_names(path) if name.split('.')[0] in ENTRY_POINTS]
    assert offenders == []


def test_the_package_has_no_import_cycle():
    graph = internal_imports(package_modules())
    done, path = set(), []

    def visit(module):
        if module in path:
            pytest.fail('import cycle: %s' % ' -> '.join(path[path.index(module):] + [module]))
        if module in done:
            return
        path.append(module)
        for target in sorted(graph[module]):
            visit(target)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_benchmarks_read_only_public_names():
    private = []
    folder = os.path.join(ROOT, 'benchmarks')
    for name in sorted(os.listdir(folder)):
        if not name.endswith('.py'):
            continue
        tree = ast.parse(open(os.path.join(folder, name)).read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                private += ['%s: from %s import %s' % (name, node.module, a.name) for a in node.names
                            if a.name.startswith('_')]
            elif (isinstance(node, ast.Attribute) and node.attr.startswith('_') and not node.attr.startswith('__')
                  and isinstance(node.value, ast.Name) and node.value.id in ENTRY_POINTS + ('fcnroad',)):
                private.append('%s: %s.%s' % (name, node.value.id, node.attr))
    assert private == []


def test_the_contract_catches_an_upward_import(tmp_path, monkeypatch):
    """The checker itself: a data module importing training is reported."""
    bad = tmp_path / 'fcnroad' / 'data'
    bad.mkdir(parents=True)
    (tmp_path / 'fcnroad' / 'training').mkdir()
    (tmp_path / 'fcnroad' / '__init__.py').write_text('')
    (tmp_path / 'fcnroad' / 'training' / 'loop.py').write_text('')
    (bad / 'reader.py').write_text('def f():\n    from fcnroad.training import loop\n')
    monkeypatch.setattr(__import__(__name__), 'ROOT', str(tmp_path))
    with pytest.raises(AssertionError, match='fcnroad.data.reader imports fcnroad.training.loop'):
        test_layers_import_only_themselves_and_the_layers_below()
