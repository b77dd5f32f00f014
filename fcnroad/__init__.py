"""fcnroad: the package behind main.py -- road and scene segmentation with FCN-8 and the survey's
classic families, the TensorFlow 1.x way.

Layers, lowest first; each imports only those below it (tests/test_architecture.py):
cpu, console, files, data, models, evaluation, serving, training, cli.
"""
from fcnroad import cpu

# Before TensorFlow creates its first oneDNN kernel, whatever imports this package (cpu.py: why).
cpu.cap_onednn_isa()

__version__ = '0.9.0'
