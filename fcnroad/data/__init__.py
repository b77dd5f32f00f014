"""Datasets (KITTI Road, CamVid, Cityscapes, folders), augmentation, labels from boxes."""
