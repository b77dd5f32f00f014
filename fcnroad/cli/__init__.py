"""The command lines behind evaluate.py and predict.py (and the fcn8-* console commands)."""
