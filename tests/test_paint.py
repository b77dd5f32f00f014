import numpy as np

from fcnroad.data import camvid, datasets
from fcnroad.serving import paint


def test_paint_blends_green_exactly_where_predicted():
    image = np.full((2, 2, 3), 100, np.uint8)
    prediction = np.array([[1, 0], [0, 1]])
    out = paint.paint(image, prediction, paint.class_colours(datasets.ROAD, None, 2))
    a = paint.PAINT_ALPHA
    green = np.round(np.array([100 * (1 - a), 100 * (1 - a) + 255 * a, 100 * (1 - a)])).astype(np.uint8)
    np.testing.assert_array_equal(out[0, 0], green)
    np.testing.assert_array_equal(out[1, 1], green)
    np.testing.assert_array_equal(out[0, 1], [100, 100, 100])


def test_the_positive_class_is_green_and_a_task_without_one_takes_its_palette():
    assert paint.class_colours(datasets.ROAD, camvid.CAMVID_COLOURS[:2], 2) == {1: paint.ROAD_GREEN}
    assert paint.class_colours(None, camvid.CAMVID_COLOURS, 11)[3] == (128, 64, 128)
    two = ((10, 20, 30), (200, 100, 0))     # two classes, neither of them road: the palette, not green
    assert paint.class_colours(None, two, 2) == {0: two[0], 1: two[1]}


def test_classes_without_a_palette_get_distinct_colours_and_the_first_none():
    colours = paint.class_colours(None, None, 4)
    assert sorted(colours) == [1, 2, 3] and colours[1] == (255, 0, 0)
    assert len(set(colours.values())) == 3
