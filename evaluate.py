"""Score a trained FCN-8 on a dataset split and print the metrics table.

    python evaluate.py --model runs/<run>/model --data-dir ../shared/data --dataset camvid_road --split val

Predictions are made at the training resolution, and the probabilities are
resized back to each label's own resolution before counting, as the KITTI
benchmark scores full-size images.
"""
import sys

from fcnroad.cli.evaluate import main

if __name__ == '__main__':
    main(sys.argv[1:])
