"""Paint a trained model's road (or classes) on your own images and videos.

    python predict.py --model runs/<run>/model INPUT... --out DIR

INPUT is an image, a folder (its images and videos), a quoted glob, or a video
(mp4, avi, mov, mkv, read and written through imageio-ffmpeg's own ffmpeg).
Images of any size: the model's serving signature resizes each to the training
size and its probabilities back to the image's own size.  Each image becomes
DIR/<name>.png (the overlay) and, with --class-map, DIR/<name>_classes.png
(class indices); a video becomes DIR/<name>.mp4 at its own frame rate and frame
count (class maps in DIR/<name>_classes/).  Every file is written under a
staging name and renamed when complete.
"""
import sys

from fcnroad.cli.predict import main

if __name__ == '__main__':
    main(sys.argv[1:])
