"""Quality benchmark: the networks trained and scored on CamVid, one table per task.

    python -m benchmarks.quality --data-dir ../shared/data
    python -m benchmarks.quality --data-dir ../shared/data --models fcn8s segnet --holdout-sequence 0001TP
    python -m benchmarks.quality --from-runs runs/quality/*/

Trains each --model on each task (binary road: CamVid class 3 against the rest; camvid:
the 11 classes) with main.run at a resolution and epoch count that fit a 2-core CPU, on
CamVid train scored on CamVid val, or with --holdout-sequence on the other sequences
scored on the one held out, and prints a markdown table per task with the scores, the
seconds per epoch (mean over the run) and the commands.  Extra main.py flags go after
`--`, e.g. `-- --mixed-precision`.  --from-runs prints the same tables from finished run
folders (their metrics.json and run_args.json) without training, leaving out unfinished ones.
"""
import os
import sys

if __package__ in (None, ''):   # run by path (python benchmarks/x.py): the project's root, not benchmarks/, first
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import json
import time

import main
from fcnroad import cli, console, models
from fcnroad.training import run_folder

DEFAULT_SETTINGS = ['--image-shape', '192', '256', '--batch-size', '4', '--epochs', '6']
TASKS = ('camvid_road', 'camvid')


def train_and_score(model, dataset, data_dir, runs_dir, settings, holdout_sequence=None):
    folder = os.path.join(runs_dir, '%s-%s' % (model, dataset))
    argv = ['--model', model, '--dataset', dataset, '--data-dir', data_dir, '--runs-dir', folder,
            '--skip-checks'] + settings
    if holdout_sequence:
        argv += ['--holdout-sequence', holdout_sequence]
    start = time.time()
    try:
        run_dir = main.run(argv)
    except SystemExit as e:  # a diverged run still saved its folder and metrics; bad input did not
        finished = [os.path.join(folder, d) for d in os.listdir(folder)
                    if run_folder.is_finished(os.path.join(folder, d))] if os.path.isdir(folder) else []
        if not finished:
            raise
        print('run ended: %s' % e, file=sys.stderr)
        run_dir = max(finished, key=os.path.getmtime)
    results = read_run(run_dir)
    results['command'] = 'python main.py ' + ' '.join(argv)
    results['wall_seconds'] = round(time.time() - start, 1)
    return results


def read_run(run_dir):
    """A finished run folder's metrics.json, with its model name and folder added."""
    if not run_folder.is_finished(run_dir):
        raise SystemExit('%s: not a finished run folder (no %s, or still %s)' % (run_dir, run_folder.METRICS, run_folder.PARTIAL))
    with open(os.path.join(run_dir, run_folder.METRICS)) as f:
        results = json.load(f)
    args_path = os.path.join(run_dir, run_folder.RUN_ARGS)
    run_args = {}
    if os.path.isfile(args_path):
        with open(args_path) as f:
            run_args = json.load(f)
    results['model'] = run_args.get('model', models.TUTORIAL_MODEL)
    results['run_dir'] = run_dir
    return results


def row(results):
    """One table row: {column: text}, the binary-road or the per-class columns."""
    epochs = len(results['epoch_mean_loss'] or []) or 1
    line = {'model': results['model'], 'scored on': results['dataset']}
    if 'road' in results:   # evaluate.py adds the road and KITTI scores to binary runs only
        line.update({'road IoU': '%.4f' % results['road']['iou'],
                     'MaxF': '%.2f' % (100 * results['kitti']['MaxF']),
                     'AP': '%.2f' % (100 * results['kitti']['AP']),
                     'precision / recall': '%.3f / %.3f' % (results['road']['precision'], results['road']['recall'])})
    else:
        line.update({'mean IoU': '%.4f' % results['mean_iou'], 'pixel acc.': '%.4f' % results['pixel_accuracy'],
                     'class-avg acc.': '%.4f' % results['class_average_accuracy']})
        line.update({name: '%.3f' % iou for name, iou in zip(results['class_names'], results['per_class_iou'])})
    line['s per epoch'] = '%d' % round(results['train_seconds'] / epochs)
    line['scoring img/s'] = '%.2f' % results['images_per_second'] if results.get('images_per_second') else '-'
    if results.get('diverged'):
        line['model'] += ' (diverged)'
    return line


def tables(results_list):
    """Markdown tables, one per task (binary road, then each class set), rows in the given order."""
    groups = {}
    for results in results_list:
        line = row(results)
        groups.setdefault(tuple(line), []).append(line)
    out = []
    for columns, lines in sorted(groups.items(), key=lambda item: len(item[0])):
        out.append('| ' + ' | '.join(columns) + ' |')
        out.append('|' + '---|' * len(columns))
        out.extend('| ' + ' | '.join(line[c] for c in columns) + ' |' for line in lines)
        out.append('')
    return '\n'.join(out)


def build_parser():
    p = console.Parser(description=__doc__.split('\n\n')[0])
    p.add_argument('--data-dir', type=console.Path('folder'), help='folder holding camvid/')
    p.add_argument('--runs-dir', default='runs/quality')
    p.add_argument('--tasks', nargs='+', default=list(TASKS), choices=TASKS)
    p.add_argument('--models', nargs='+', default=[models.TUTORIAL_MODEL], choices=list(models.MODELS),
                   metavar='MODEL', help='networks to train, each on every task (%s)' % ', '.join(models.MODELS))
    p.add_argument('--holdout-sequence', metavar='SEQ',
                   help='train on the other CamVid sequences, score on this one (e.g. 0001TP, the dusk fold)')
    p.add_argument('--from-runs', nargs='+', metavar='RUN_DIR',
                   help='only print the tables of these finished run folders')
    return p


def main_(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index('--') + 1:] if '--' in argv else []
    argv = argv[:argv.index('--')] if '--' in argv else argv
    with cli.errors_as_exit():
        args = build_parser().parse_args(argv)
    if args.from_runs:
        finished = [d for d in args.from_runs if run_folder.is_finished(d)]
        for d in sorted(set(args.from_runs) - set(finished)):
            print('%s: not a finished run (no %s, or still %s), left out' % (d, run_folder.METRICS, run_folder.PARTIAL),
                  file=sys.stderr)
        if not finished:
            raise SystemExit('--from-runs: none of %s is a finished run folder' % ', '.join(args.from_runs))
        print(tables([read_run(d) for d in finished]))
        return
    if not args.data_dir:
        raise SystemExit('--data-dir is required unless --from-runs is given')
    settings = DEFAULT_SETTINGS + extra
    results_list = []
    for task in args.tasks:
        for model in args.models:
            results = train_and_score(model, task, args.data_dir, args.runs_dir, settings, args.holdout_sequence)
            results_list.append(results)
            print('command:', results['command'])
    print()
    print(tables(results_list))


if __name__ == '__main__':
    main_()
