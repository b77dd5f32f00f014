"""Painting predictions over images: the tutorial's semi-transparent green road, or a palette."""
import numpy as np

PAINT_ALPHA = 127 / 255.0
ROAD_GREEN = (0, 255, 0)


def paint(image, prediction, colours=None):
    """Blend each predicted class's colour over the image (road only, green, for 2 classes)."""
    colours = colours or {1: ROAD_GREEN}
    out = image.astype(np.float32)
    for cls, colour in colours.items():
        hit = prediction == cls
        out[hit] = out[hit] * (1 - PAINT_ALPHA) + np.asarray(colour, np.float32) * PAINT_ALPHA
    return np.round(out).astype(np.uint8)


def class_colours(positive, colours=None):
    """Which colour paints which class: the positive class (road) green, else the dataset's palette
    (without one, class 1 green)."""
    if positive is not None or colours is None:
        return {1 if positive is None else positive: ROAD_GREEN}
    return dict(enumerate(colours))


def model_colours(run_config):
    """class_colours of a saved model, from its run_config.json (as saved_model.up_to_date gives it)."""
    colours = run_config.get('colours')
    return class_colours(run_config['positive_class'], [tuple(c) for c in colours] if colours else None)
