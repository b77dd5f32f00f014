"""Training's machinery: checkpoints and resume, precision, distribution, curves."""
