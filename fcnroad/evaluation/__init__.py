"""Scoring: confusion counts, IoU, the KITTI devkit's MaxF/AP, the dense CRF, test-time options."""
