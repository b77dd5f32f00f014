"""Paint a trained model's road (or classes) on your own images and videos.

    python predict.py --model runs/<run>/model INPUT... --out DIR

The command itself, and what it does in full: fcnroad/cli/predict.py (also `fcn8-predict`).
"""
import sys

from fcnroad.cli.predict import main

if __name__ == '__main__':
    main(sys.argv[1:])
