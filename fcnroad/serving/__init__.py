"""The saved-model format, painting, and the predictor for images and videos."""
