"""Export a trained model for TensorFlow Serving.

    python export.py --format savedmodel --model runs/<run>/model --out exports

The command itself, and what it does in full: fcnroad/cli/export.py (also `fcn8-export`).
"""
import sys

from fcnroad.cli.export import main

if __name__ == '__main__':
    main(sys.argv[1:])
