"""Painting predictions over images: the tutorial's semi-transparent green road, or a palette."""
import colorsys

import numpy as np

PAINT_ALPHA = 127 / 255.0
ROAD_GREEN = (0, 255, 0)


def paint(image, prediction, colours):
    """Blend each predicted class's colour ({class: RGB}, class_colours) over the image."""
    out = image.astype(np.float32)
    for cls, colour in colours.items():
        hit = prediction == cls
        out[hit] = out[hit] * (1 - PAINT_ALPHA) + np.asarray(colour, np.float32) * PAINT_ALPHA
    return np.round(out).astype(np.uint8)


def class_colours(positive, colours, num_classes):
    """Which colour paints which class: the positive class (road) alone, green; else the dataset's palette;
    without one, every class but the first in hues spread round the colour wheel."""
    if positive is not None:
        return {positive: ROAD_GREEN}
    if colours:
        return dict(enumerate(colours))
    hues = [colorsys.hsv_to_rgb(k / (num_classes - 1), 1.0, 1.0) for k in range(num_classes - 1)]
    return {k + 1: tuple(int(round(255 * c)) for c in rgb) for k, rgb in enumerate(hues)}


def model_colours(run_config):
    """class_colours of a saved model, from its run_config.json (as saved_model.up_to_date gives it)."""
    colours = run_config.get('colours')
    return class_colours(run_config['positive_class'], [tuple(c) for c in colours] if colours else None,
                         run_config['num_classes'])
