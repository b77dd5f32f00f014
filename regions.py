"""Train and score the region-based segmenter (R-CNN / SDS style), the approach FCN replaced.

    python regions.py --data-dir ../shared/data --dataset camvid_road --holdout-sequence 0001TP

The command itself, and what it does in full: fcnroad/cli/regions.py (also `fcn8-regions`).
"""
import sys

from fcnroad.cli.regions import main

if __name__ == '__main__':
    main(sys.argv[1:])
