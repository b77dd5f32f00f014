"""Every option of every command (and benchmark) that takes a value: invalid values stop it at once, in one line.

The walk reads each command's parser: an option whose type is a console.Range or console.Path,
or that has choices, is tried with values outside what it accepts (out of range, the wrong type,
a missing path); every other option must be listed in UNJUDGED with the reason, so an option
added without a stated range fails here until it gets one.
"""
import os
import re
import subprocess
import sys
import time

import pytest

import main
from benchmarks import inference as bench_inference, models as bench_models, predict_memory as bench_memory
from benchmarks import quality as bench_quality, service as bench_service, speed as bench_speed, weak as bench_weak
from benchmarks import anchor as bench_anchor, input_size as bench_input_size
from conftest import ROOT
from fcnroad import console
from fcnroad.cli import evaluate, export, predict, regions, serve
from fcnroad.cli import build_vgg
from fcnroad.training import loop, options

# Options whose values no rule of their own can judge, and why.
UNJUDGED = {
    ('main', '--runs-dir'): 'created when missing',
    ('main', '--vgg-dir'): 'the VGG16 is built there when missing',
    ('main', '--kitti-url'): 'any URL; fetched only when KITTI is absent, and a failure falls back to the sample',
    ('main', '--holdout-sequence'): "the dataset's own sequence names, refused by name when the data is read",
    ('main', '--weak-cache'): 'created when missing',
    ('main', '--add-dataset'): 'NAME=DIR: a dataset of the registry and a folder, each refused by name as the flag is '
                               'parsed (tests/test_sources.py)',
    ('benchmarks.anchor', '--anchor-dir'): "without the anchor's files the anchor is skipped, saying so",
    ('benchmarks.inference', '--anchor-dir'): "without the anchor's files the anchor is skipped, saying so",
    ('evaluate', '--holdout-sequence'): "the dataset's own sequence names, refused by name when the data is read",
    ('evaluate', '--output'): 'a file to write (a folder there is refused before the model loads)',
    ('evaluate', '--report'): 'a folder to write (one that is not a report is refused before the model loads)',
    ('predict', '--out'): 'created when missing (a file there is refused before the model loads)',
    ('export', '--out'): 'written; one that exists is refused by the export itself before anything is written',
    ('export', '--name'): "any name: the export's folder name",
    ('serve', '--host'): 'any name or address of this machine',
    ('regions', '--vgg-dir'): 'the VGG16 is built there when missing',
    ('regions', '--runs-dir'): 'created when missing',
    ('regions', '--holdout-sequence'): "the dataset's own sequence names, refused by name when the data is read",
    ('build_vgg', '--out'): 'the SavedModel folder to write',
    ('build_vgg', '--cache-dir'): 'created when missing',
    ('benchmarks.models', '--vgg-dir'): 'the VGG16 is built there when missing',
    ('benchmarks.speed', '--vgg-dir'): 'the VGG16 is built there when missing',
    ('benchmarks.quality', '--runs-dir'): 'created when missing',
    ('benchmarks.quality', '--holdout-sequence'): "CamVid's own sequence names, refused by name when the data is read",
    ('benchmarks.quality', '--from-runs'): 'each must be a finished run folder, which the benchmark checks before reading',
    ('benchmarks.weak', '--holdout-sequence'): "CamVid's own sequence names, refused by name when the data is read",
}


def commands(tmp_path):
    """{name: (parser, main, the arguments it needs besides the one tried)} of every command."""
    data = tmp_path / 'data'
    model = tmp_path / 'model'
    data.mkdir()
    model.mkdir()
    runs = str(tmp_path / 'runs')
    return {
        'main': (options.build_parser(), main.run,
                 ['--data-dir', str(data), '--runs-dir', runs, '--vgg-dir', str(tmp_path / 'vgg'), '--skip-checks']),
        'evaluate': (evaluate.build_parser(), evaluate.main, ['--model', str(model), '--data-dir', str(data)]),
        'predict': (predict.build_parser(), predict.main,
                    ['--model', str(model), '--out', str(tmp_path / 'painted'), str(tmp_path / 'street.png')]),
        'export': (export.build_parser(), export.main, ['--model', str(model), '--out', str(tmp_path / 'exports')]),
        'serve': (serve.build_parser(), serve.main, ['--model', str(model)]),
        'regions': (regions.build_parser(), regions.main, ['--data-dir', str(data), '--runs-dir', runs]),
        'build_vgg': (build_vgg.build_parser(), build_vgg.main, ['--out', str(tmp_path / 'vgg')]),
        'benchmarks.inference': (bench_inference.build_parser(), bench_inference.main_, ['--model', str(model)]),
        'benchmarks.models': (bench_models.build_parser(), bench_models.main_, ['--vgg-dir', str(tmp_path / 'vgg')]),
        'benchmarks.predict_memory': (bench_memory.build_parser(), bench_memory.main, ['--model', str(model)]),
        'benchmarks.quality': (bench_quality.build_parser(), bench_quality.main_, ['--runs-dir', runs]),
        'benchmarks.service': (bench_service.build_parser(), bench_service.main, ['--model', str(model)]),
        'benchmarks.speed': (bench_speed.build_parser(), bench_speed.main_, ['--vgg-dir', str(tmp_path / 'vgg')]),
        'benchmarks.weak': (bench_weak.build_parser(), bench_weak.main, ['--data-dir', str(data)]),
        'benchmarks.anchor': (bench_anchor.build_parser(), bench_anchor.main, ['--kitti-dir', str(data)]),
        'benchmarks.input_size': (bench_input_size.build_parser(), bench_input_size.main, ['--kitti-dir', str(data)]),
    }


def invalid_values(option, tmp_path):
    """Values the option refuses, or None when no rule of its own states them."""
    rule = option.type
    if isinstance(rule, console.Range):
        return [str(v) for v in rule.outside()] + ['x']
    if isinstance(rule, console.Path):
        return [str(tmp_path / 'missing')]
    if option.choices:
        return ['no-such-choice']
    return None


def takes_a_value(option):
    return option.option_strings and option.nargs != 0


def with_values(option, value):
    count = option.nargs if isinstance(option.nargs, int) else 1
    return [option.option_strings[0]] + [value] * count


def everything_in(folder):
    return sorted(os.path.relpath(os.path.join(d, n), folder) for d, dirs, names in os.walk(folder) for n in dirs + names)


def test_every_option_that_takes_a_value_states_its_range_or_says_why_not(tmp_path):
    parsers = {name: parser for name, (parser, _, _) in commands(tmp_path).items()}
    unstated = ['%s %s' % (name, option.option_strings[0]) for name, parser in parsers.items()
                for option in parser.options
                if takes_a_value(option) and invalid_values(option, tmp_path) is None
                and (name, option.option_strings[0]) not in UNJUDGED]
    assert unstated == []
    stale = [key for key in UNJUDGED if key[1] not in {s for o in parsers[key[0]].options for s in o.option_strings}]
    assert stale == []


def test_every_invalid_value_stops_the_command_at_once_in_one_line_naming_the_option(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tried = 0
    problems = []
    for name, (parser, run, needed) in commands(tmp_path).items():
        for option in parser.options:
            values = invalid_values(option, tmp_path) if takes_a_value(option) else None
            for value in values or ():
                argv = needed + with_values(option, value)
                before = everything_in(tmp_path)
                start = time.time()
                try:
                    run(argv)
                    problems.append('%s %s: accepted' % (name, ' '.join(argv[-2:])))
                    continue
                except SystemExit as e:
                    message = e.code
                seconds = time.time() - start
                tried += 1
                flag = option.option_strings[0]
                if not isinstance(message, str) or '\n' in message or flag not in message:
                    problems.append('%s %s %s: %r' % (name, flag, value, message))
                elif seconds > 5:
                    problems.append('%s %s %s: %.1f s before refusing' % (name, flag, value, seconds))
                elif everything_in(tmp_path) != before:
                    problems.append('%s %s %s: left %s' % (name, flag, value,
                                                           sorted(set(everything_in(tmp_path)) - set(before))))
    assert problems == []
    assert tried > 100     # the walk reached every command's options


@pytest.mark.parametrize('command, flags, flag', [
    ('serve.py', ['--port', '99999'], '--port'),
    ('main.py', ['--learning-rate', '-1'], '--learning-rate'),
    ('predict.py', ['--scales', '-1', 'street.png'], '--scales'),
    ('main.py', ['--val-fraction', '1.5'], '--val-fraction'),
])
def test_the_command_line_refuses_a_bad_setting_with_one_line_and_exit_status_1(command, flags, flag, tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, command), *flags], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1 and flag in result.stderr, result.stderr
    assert result.stdout == ''


@pytest.mark.parametrize('rate, clip', [(1.0, 10.0), (1e-4, 0.0), (3e-7, 1.0)])
def test_the_divergence_advice_suggests_only_values_the_checks_accept(rate, clip):
    parser = options.build_parser()
    advice = loop.divergence_advice(parser.parse_args(['--learning-rate', str(rate), '--clip-norm', str(clip)]),
                                    'float32')
    suggested = re.findall(r'(--[a-z-]+)[^)]*?try ([0-9.e+-]+)\)', advice) + \
        re.findall(r'\((--[a-z-]+) ([0-9.e+-]+)\)', advice)
    assert ('--learning-rate', '%g' % (rate / 10)) in suggested, advice
    for flag, value in suggested:
        parser.parse_args([flag, value])     # raises ConfigError if the check refuses it
