"""Quality benchmark: FCN-8 from the pretrained VGG16 on CamVid train, scored on CamVid val.

    python benchmark_quality.py --data-dir ../shared/data

Trains binary road (CamVid class 3 against the rest), then the 11 classes, each
with main.run at a resolution and epoch count that fit a 2-core CPU, and prints
one table with the scores, the time per epoch and the commands.  Extra main.py
flags go after `--`, e.g. `-- --mixed-precision`.
"""
import argparse
import json
import os
import sys
import time

import main

DEFAULT_SETTINGS = ['--image-shape', '192', '256', '--batch-size', '4', '--epochs', '6']


def train_and_score(dataset, data_dir, runs_dir, settings):
    argv = ['--dataset', dataset, '--data-dir', data_dir, '--runs-dir', runs_dir, '--skip-checks'] + settings
    start = time.time()
    try:
        run_dir = main.run(argv)
    except SystemExit as e:  # a diverged run still saved its folder; find it by its metrics
        print('run ended: %s' % e, file=sys.stderr)
        run_dir = max((os.path.join(runs_dir, d) for d in os.listdir(runs_dir)), key=os.path.getmtime)
    with open(os.path.join(run_dir, 'metrics.json')) as f:
        results = json.load(f)
    results['run_dir'] = run_dir
    results['command'] = 'python main.py ' + ' '.join(argv)
    results['wall_seconds'] = round(time.time() - start, 1)
    return results


def summary(results):
    epochs = len(results['epoch_mean_loss'] or []) or 1
    line = {'dataset': results['dataset'], 'epochs': epochs,
            's_per_epoch': round(results['train_seconds'] / epochs),
            'mean_iou': round(results['mean_iou'], 4), 'pixel_acc': round(results['pixel_accuracy'], 4)}
    if 'road' in results:
        line.update({'road_iou': round(results['road']['iou'], 4),
                     'MaxF': round(100 * results['kitti']['MaxF'], 2), 'AP': round(100 * results['kitti']['AP'], 2)})
    line['diverged'] = results['diverged']
    return line


def main_(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index('--') + 1:] if '--' in argv else []
    argv = argv[:argv.index('--')] if '--' in argv else argv
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--data-dir', required=True, help='folder holding camvid/')
    p.add_argument('--runs-dir', default='runs/quality')
    p.add_argument('--tasks', nargs='+', default=['camvid_road', 'camvid'], choices=['camvid_road', 'camvid'])
    args = p.parse_args(argv)
    settings = DEFAULT_SETTINGS + extra
    lines = []
    for task in args.tasks:
        results = train_and_score(task, args.data_dir, args.runs_dir, settings)
        lines.append(summary(results))
        print(json.dumps(lines[-1]))
        print('command:', results['command'])
    print('\n| ' + ' | '.join(lines[0]) + ' |')
    print('|' + '---|' * len(lines[0]))
    for line in lines:
        print('| ' + ' | '.join(str(line.get(k, '')) for k in lines[0]) + ' |')


if __name__ == '__main__':
    main_()
