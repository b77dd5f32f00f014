"""The Markdown files tell the truth about the code: flags exist, paths exist.

Every `--flag` written after one of the commands (`python main.py ...`, `predict.py`,
`evaluate.py`, `export.py`, `serve.py`, `regions.py`, `python -m fcnroad.cli.build_vgg`,
and their `fcn8-*` names) must be an option of that command's parser, and every path into the
repository written in backquotes must exist, unless it is one the commands make (MADE) or a
placeholder (`runs/<run>/model`, `*.png`).  The benchmarks' own flags are not checked here.
"""
import glob
import os
import re


from conftest import ROOT
from fcnroad.cli import evaluate, export, predict, regions, serve
from fcnroad.cli import build_vgg
from fcnroad.training import options

PARSERS = {'main.py': options.build_parser, 'fcn8-train': options.build_parser,
           'predict.py': predict.build_parser, 'fcn8-predict': predict.build_parser,
           'evaluate.py': evaluate.build_parser, 'fcn8-evaluate': evaluate.build_parser,
           'export.py': export.build_parser, 'fcn8-export': export.build_parser,
           'serve.py': serve.build_parser, 'fcn8-serve': serve.build_parser,
           'regions.py': regions.build_parser, 'fcn8-regions': regions.build_parser,
           'fcnroad.cli.build_vgg': build_vgg.build_parser, 'fcn8-build-vgg': build_vgg.build_parser}
COMMAND = re.compile(r'(?:python3? (?:-m )?)?(?<![\w/.-])(%s)(?![\w.-])' % '|'.join(re.escape(c) for c in PARSERS))
# Paths the commands and their users make: a fresh clone does not have them.
MADE = ('data/vgg', 'data/data_road', 'runs/', 'painted', 'exports', 'report', 'out/', 'photos/', '.venv',
        'data/cityscapes', 'data/camvid', 'checkpoints', 'tensorboard', 'model/', 'weak_labels', 'my_street')


def markdown_files():
    return sorted(set(glob.glob(os.path.join(ROOT, '*.md')) + glob.glob(os.path.join(ROOT, 'docs', '*.md'))
                      + glob.glob(os.path.join(ROOT, '*', 'README.md'))
                      + glob.glob(os.path.join(ROOT, 'fcnroad', 'pretrained', '*', '*.md'))))


def flags_after_commands(text):
    """(command, flag) for every --flag written after a command on the same line of a code span or block."""
    found = []
    for line in text.splitlines():
        for match in COMMAND.finditer(line):
            rest = line[match.end():]
            rest = re.split(r'`|\||#|;|&&', rest)[0]     # the command's own words only
            found += [(match.group(1), flag) for flag in re.findall(r'(?<![\w-])--[a-z][a-z0-9-]*', rest)]
    return found


def backquoted_paths(text):
    """Backquoted paths into the repository: their first part is a top-level file or folder of it
    (a layout inside a dataset or a run folder, `data_road/val_images.txt`, is not one)."""
    top = set(os.listdir(ROOT)) | {'..'}
    for span in re.findall(r'`([^`\n]+)`', text):
        if (' ' in span or span.startswith(('-', 'http', '~', '/')) or any(c in span for c in '<>*{}$[]=:,')
                or '...' in span or '/' not in span):
            continue
        if span.split('/')[0] in top:
            yield span


def test_the_docs_name_real_files_and_a_handful_of_commands():
    files = [os.path.relpath(f, ROOT) for f in markdown_files()]
    assert 'README.md' in files and 'docs/training.md' in files and 'BENCHMARKS.md' in files
    commands = [c for f in markdown_files() for c, _ in flags_after_commands(open(f).read())]
    assert {'main.py', 'predict.py', 'evaluate.py', 'export.py'} <= set(commands)


def test_every_flag_written_after_a_command_is_one_of_its_options():
    parsers = {}
    unknown = []
    for path in markdown_files():
        for command, flag in flags_after_commands(open(path).read()):
            parser = parsers.setdefault(command, PARSERS[command]())
            if flag not in {s for o in parser.options for s in o.option_strings}:
                unknown.append('%s: %s %s' % (os.path.relpath(path, ROOT), command, flag))
    assert sorted(set(unknown)) == []


def test_every_path_written_in_backquotes_exists():
    shared = os.path.isdir(os.path.join(ROOT, '..', 'shared'))
    missing = []
    for path in markdown_files():
        folder = os.path.dirname(path)
        for span in backquoted_paths(open(path).read()):
            clean = span.rstrip('/.')
            if clean.startswith(MADE) or span.startswith(MADE) or (clean.startswith('../shared') and not shared):
                continue
            candidates = [os.path.join(ROOT, clean), os.path.join(folder, clean)]
            if not any(os.path.exists(c) for c in candidates):
                missing.append('%s: %s' % (os.path.relpath(path, ROOT), span))
    assert sorted(set(missing)) == []
