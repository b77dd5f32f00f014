"""Rebuild the embedded sample (sample/data_road/) from the real data in --shared-data.

    python sample/build_sample.py --shared-data ../shared/data

Real KITTI Road files and real CamVid frames in KITTI's layout and mask colours.
Images are stored as JPEG (quality 90) to keep the sample a few MB; masks stay PNG.
Training frames come from CamVid sequences 0001TP (dusk) and 0006R0, plus the two
KITTI images that have road masks; the held-out frames (val_images.txt) come from
sequence 0016E5, so the sample's validation score is on a street it never saw.
"""
import argparse
import os
import shutil
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import datasets  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
JPEG_QUALITY = 90
# (CamVid split, sequence prefix, keep every n-th frame)
CAMVID_TRAIN = (('train', '0001TP', 2), ('train', '0006R0', 2))
CAMVID_VAL = (('val', '0016E5', 10),)
KITTI_TRAIN = ('um_000000.png', 'um_000001.png')
KITTI_TEST = ('um_000000.png', 'um_000087.png', 'umm_000033.png', 'uu_000087.png')


def camvid_to_kitti_mask(label):
    """CamVid class indices -> KITTI devkit colours: road magenta, other classes red, unlabelled black."""
    mask = np.zeros(label.shape + (3,), np.uint8)
    mask[label < datasets.CAMVID_UNLABELLED] = datasets.KITTI_BACKGROUND
    mask[label == datasets.CAMVID_ROAD] = datasets.KITTI_ROAD
    return mask


def save_jpeg(src, dst):
    Image.open(src).convert('RGB').save(dst, 'JPEG', quality=JPEG_QUALITY)


def build(shared, out):
    camvid = os.path.join(shared, 'camvid')
    kitti = os.path.join(shared, 'kitti_road', 'data_road')
    staging = out + '.partial'
    shutil.rmtree(staging, ignore_errors=True)
    image_dir = os.path.join(staging, 'training', 'image_2')
    gt_dir = os.path.join(staging, 'training', 'gt_image_2')
    test_dir = os.path.join(staging, 'testing', 'image_2')
    for d in (image_dir, gt_dir, test_dir):
        os.makedirs(d)
    val_names = []
    for group, is_val in ((CAMVID_TRAIN, False), (CAMVID_VAL, True)):
        for split_name, sequence, every in group:
            frames = sorted(f for f in os.listdir(os.path.join(camvid, split_name)) if f.startswith(sequence))
            for name in frames[::every]:
                stem = os.path.splitext(name)[0]
                save_jpeg(os.path.join(camvid, split_name, name), os.path.join(image_dir, stem + '.jpg'))
                label = datasets.read_png(os.path.join(camvid, split_name + 'annot', name), channels=1)
                Image.fromarray(camvid_to_kitti_mask(label)).save(
                    os.path.join(gt_dir, datasets.kitti_road_mask_name(stem + '.jpg')))
                if is_val:
                    val_names.append(stem + '.jpg')
    for name in KITTI_TRAIN:
        stem = os.path.splitext(name)[0]
        save_jpeg(os.path.join(kitti, 'training', 'image_2', name), os.path.join(image_dir, stem + '.jpg'))
        shutil.copyfile(os.path.join(kitti, 'training', 'gt_image_2', datasets.kitti_road_mask_name(name)),
                        os.path.join(gt_dir, datasets.kitti_road_mask_name(name)))
    for name in KITTI_TEST:
        save_jpeg(os.path.join(kitti, 'testing', 'image_2', name),
                  os.path.join(test_dir, os.path.splitext(name)[0] + '.jpg'))
    with open(os.path.join(staging, datasets.VAL_LIST), 'w') as f:
        f.write(''.join(n + '\n' for n in val_names))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(staging, out)
    return out


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--shared-data', required=True, help='folder holding camvid/ and kitti_road/')
    p.add_argument('--out', default=os.path.join(HERE, 'data_road'))
    args = p.parse_args()
    print('wrote', build(args.shared_data, args.out))
