"""Score a trained FCN-8 on a dataset split and print the metrics table.

    python evaluate.py --model runs/<run>/model --data-dir ../shared/data --dataset camvid_road --split val

The command itself, and what it does in full: fcnroad/cli/evaluate.py (also `fcn8-evaluate`).
"""
import sys

from fcnroad.cli.evaluate import main

if __name__ == '__main__':
    main(sys.argv[1:])
