"""Rebuild the embedded sample (sample/data_road/) from the real data in --shared-data.

    python sample/build_sample.py --shared-data ../shared/data

KITTI Road frames only, in KITTI's own layout and mask colours (the original masks).
Images are re-encoded as JPEG (quality 85) to keep the sample a few MB; masks stay PNG.
Training frames are urban marked (um) and urban multiple marked (umm) frames; the
held-out frames (val_images.txt) are urban unmarked (uu) ones, a category whose drives
none of the training frames comes from, so the sample's validation score is on streets
it never saw. Within um and umm only indices below KITTI's own validation block are used.
"""
import argparse
import os
import shutil
import sys

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fcnroad.data import datasets, kitti_road  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
JPEG_QUALITY = 85
# (category, first index, stop index, keep every n-th)
KITTI_TRAIN = (('um', 0, 60, 3), ('umm', 0, 60, 3))
KITTI_VAL = (('uu', 68, 78, 1),)
KITTI_TEST = ('um_000000', 'um_000087', 'umm_000033', 'uu_000087')


def frame_names(groups):
    return ['%s_%06d' % (category, i) for category, start, stop, every in groups
            for i in range(start, stop, every)]


def save_jpeg(src, dst):
    Image.open(src).convert('RGB').save(dst, 'JPEG', quality=JPEG_QUALITY)


def find_image(folder, stem):
    for ext in ('.jpg', '.png'):
        if os.path.isfile(os.path.join(folder, stem + ext)):
            return os.path.join(folder, stem + ext)
    raise SystemExit('%s: no %s.jpg or .png' % (folder, stem))


def build(shared, out):
    kitti = os.path.join(shared, 'kitti_road_train', 'data_road')
    staging = out + '.partial'
    shutil.rmtree(staging, ignore_errors=True)
    image_dir = os.path.join(staging, 'training', 'image_2')
    gt_dir = os.path.join(staging, 'training', 'gt_image_2')
    test_dir = os.path.join(staging, 'testing', 'image_2')
    for d in (image_dir, gt_dir, test_dir):
        os.makedirs(d)
    for stem in frame_names(KITTI_TRAIN) + frame_names(KITTI_VAL):
        save_jpeg(find_image(os.path.join(kitti, 'training', 'image_2'), stem),
                  os.path.join(image_dir, stem + '.jpg'))
        mask = kitti_road.kitti_road_mask_name(stem + '.png')
        shutil.copyfile(os.path.join(kitti, 'training', 'gt_image_2', mask), os.path.join(gt_dir, mask))
    for stem in KITTI_TEST:
        save_jpeg(find_image(os.path.join(kitti, 'testing', 'image_2'), stem), os.path.join(test_dir, stem + '.jpg'))
    with open(os.path.join(staging, datasets.VAL_LIST), 'w') as f:
        f.write(''.join(stem + '.jpg\n' for stem in frame_names(KITTI_VAL)))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(staging, out)
    return out


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--shared-data', required=True, help='folder holding kitti_road_train/')
    p.add_argument('--out', default=os.path.join(HERE, 'data_road'))
    args = p.parse_args()
    print('wrote', build(args.shared_data, args.out))
