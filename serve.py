"""Serve a trained model over HTTP: a page to try it on a photo, and an API for programs.

    python serve.py --model runs/<run>/model [--port 8080]

The command itself, and what it does in full: fcnroad/cli/serve.py (also `fcn8-serve`).
"""
import sys

from fcnroad.cli.serve import main

if __name__ == '__main__':
    main(sys.argv[1:])
