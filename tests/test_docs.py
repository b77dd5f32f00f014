"""The Markdown files tell the truth about the code: flags exist, paths exist, stated defaults are the code's.

Every `--flag` written after one of the commands (`python main.py ...`, `predict.py`,
`evaluate.py`, `export.py`, `serve.py`, `regions.py`, `python -m fcnroad.cli.build_vgg`,
and their `fcn8-*` names) must be an option of that command's parser, and every path into the
repository written in backquotes must exist, unless it is one the commands make (MADE) or a
placeholder (`runs/<run>/model`, `*.png`).  A default the docs state for a flag must be one a parser,
a dataset, the embedded sample or a fine-tune gives it.  The benchmarks' own flags are not checked here.
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


DEFAULT_STATEMENTS = (
    re.compile(r'`((?:--[a-z][a-z0-9-]*(?: [^`-][^`]*?)? ?)+)`,? (?:is )?the default\b(?!s)'),   # `--flag V`, the default
    re.compile(r'`(--[a-z][a-z0-9-]*)(?: [A-Z_]+)?` \(default:? `([^`]+)`'),                    # `--flag NAME` (default `V`
    re.compile(r'`(--[a-z][a-z0-9-]*)`[^.`]{0,30}?(?:defaults to|by default|default:) `([^`]+)`'),
)


def stated_defaults(text):
    """(flag, value) for every sentence of text that states a flag's default."""
    text = text.replace('\n', ' ')
    for pattern in DEFAULT_STATEMENTS:
        for match in pattern.finditer(text):
            if pattern.groups == 2:
                yield match.group(1), match.group(2)
                continue
            for flag, value in re.findall(r'(--[a-z][a-z0-9-]*) ?([^-][^`]*?)?(?= --|$)', match.group(1)):
                yield flag, value.strip()


def known_defaults():
    """{flag: the values a default of it can take}: every command's parser default, a dataset's, the embedded
    sample's, a fine-tune's, and the VGG16 folder of each fc6/fc7 width those set."""
    from fcnroad.data import registry
    as_text = lambda v: ' '.join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)    # noqa: E731
    values = {}
    for make in set(PARSERS.values()):
        for action in make().options:
            for flag in action.option_strings:
                if action.default not in (None, False) and not flag.startswith('--no-'):
                    values.setdefault(flag, set()).add(as_text(action.default))
    settings = [spec.defaults for spec in registry.DATASETS.values()] + [options.SAMPLE_DEFAULTS,
                                                                         options.FINETUNE_DEFAULTS]
    for defaults in settings:
        for key, value in defaults.items():
            values.setdefault('--' + key.replace('_', '-'), set()).add(as_text(value))
    values['--vgg-dir'] = {options.vgg_dir_for(int(width)) for width in values['--fc-depth']}
    return values


def test_stated_defaults_finds_each_form_a_default_is_written_in():
    text = ('`--distribute none`, the default; `--model NAME` (default `fcn8s`); `--out` defaults to `painted/`; '
            '`--aug-colour 0.15 --aug-low-light 0.25`, the default since; `--model segnet`, the defaults otherwise')
    assert list(stated_defaults(text)) == [('--distribute', 'none'), ('--aug-colour', '0.15'),
                                           ('--aug-low-light', '0.25'), ('--model', 'fcn8s'), ('--out', 'painted/')]


def normal(value):
    return os.path.normpath(value) if '/' in value else value


def test_every_default_the_docs_state_is_the_parsers_or_a_datasets():
    known = known_defaults()
    wrong = ['%s: %s %s (the code has %s)' % (os.path.relpath(path, ROOT), flag, value,
                                              ', '.join(sorted(known.get(flag, ['no default']))))
             for path in markdown_files() for flag, value in stated_defaults(open(path).read())
             if normal(value) not in {normal(v) for v in known.get(flag, ())}]
    assert wrong == []


def results_rows(readme):
    """(recipe cell, [MaxF, AP, road IoU as written]) of each row of the README's results table."""
    text = readme.split('\n## Results', 1)[1].split('\n## ', 1)[0]
    rows = [line for line in text.splitlines() if line.startswith('|') and not line.startswith('|---')][1:]
    for row in rows:
        cells = [cell.strip().strip('*').strip() for cell in row.strip('|').split('|')]
        yield cells[0], cells[1:4]


def shows(section, figure):
    """Whether a number of section, rounded to figure's decimals, is figure."""
    decimals = len(figure.split('.')[1]) if '.' in figure else 0
    return any(round(float(number), decimals) == float(figure)
               for number in re.findall(r'(?<![\d.])\d+\.\d+(?![\d.])', section))


def test_every_figure_of_the_readmes_results_table_is_in_benchmarks_beside_its_command():
    readme = open(os.path.join(ROOT, 'README.md')).read()
    sections = re.split(r'\n#{2,3} ', open(os.path.join(ROOT, 'BENCHMARKS.md')).read())
    rows = list(results_rows(readme))
    assert len(rows) >= 5
    unfound = []
    for recipe, figures in rows:
        flags = re.findall(r'`(--[a-z][a-z0-9-]*)', recipe)
        if not any(all(shows(s, f) for f in figures) and all(flag in s for flag in flags) and 'python main.py' in s
                   for s in sections):
            unfound.append('%s: %s' % (recipe[:60], ', '.join(figures)))
    assert unfound == []


def test_shows_reads_a_figure_rounded_as_written():
    assert shows('road IoU 0.9048 on 30 frames', '0.905') and not shows('road IoU 0.9048', '0.904')
    assert shows('MaxF 95.06', '95.06') and not shows('MaxF 95.161', '95.1')
