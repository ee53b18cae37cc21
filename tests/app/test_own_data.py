"""Your own data: an image folder and a CSV, read without a framework, and their bad inputs."""

import numpy as np
import pytest

pytest.importorskip("PIL")
pytest.importorskip("sklearn")

from own_helpers import blobs_csv, digits_folder, write_csv

from cyclr.app.data import load_data
from cyclr.app.userdata import load_csv, load_image_folder


def test_an_image_folder_reads_as_classes_in_name_order(tmp_path):
    root = digits_folder(tmp_path / "imgs", classes=(0, 1, 2), per_class=20)
    x, y, xt, yt = load_image_folder(root)
    assert x.shape[1:] == (8, 8) and x.dtype == np.float32
    assert len(x) + len(xt) == 60 and len(xt) == 12  # a fixed 20% test split
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() > 0.9
    assert sorted(set(y.tolist()) | set(yt.tolist())) == [0, 1, 2]
    # The same files, the same split.
    again = load_image_folder(root)
    np.testing.assert_array_equal(again[1], y)
    np.testing.assert_array_equal(again[0], x)
    # Shuffled: the validation split (the last 20% of train) is not one class.
    data = load_data(data=root)
    assert len(set(data.y_val.tolist())) > 1
    assert data.num_classes == 3 and data.input_shape == (8, 8)


def test_rgb_images_keep_three_channels_and_can_be_resized(tmp_path):
    root = digits_folder(tmp_path / "rgb", classes=(3, 4), per_class=5, rgb=True)
    x, *_ = load_image_folder(root, image_size=(6, 10))
    assert x.shape[1:] == (6, 10, 3)


def test_a_folder_with_one_class_is_refused(tmp_path):
    root = digits_folder(tmp_path / "one", classes=(7,), per_class=5)
    with pytest.raises(
        ValueError, match=r"^data='.*one': .*at least 2 classes; found 1 \(digit_7\)"
    ):
        load_image_folder(root)


def test_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"^data='.*nowhere': no such file or folder"):
        load_data(data=tmp_path / "nowhere")


def test_images_of_two_sizes_name_both_files(tmp_path):
    from PIL import Image

    root = digits_folder(tmp_path / "mixed", classes=(0, 1), per_class=3)
    Image.new("L", (9, 9)).save(root / "digit_1" / "odd.png")
    with pytest.raises(
        ValueError, match=r"digit_1/odd.png is 9x9 but digit_0/.* is 8x8; .*\(image_size\)"
    ):
        load_image_folder(root)
    x, *_ = load_image_folder(root, image_size=(8, 8))  # resizing fixes it
    assert x.shape[1:] == (8, 8)


def test_a_file_that_is_not_an_image_is_named(tmp_path):
    root = digits_folder(tmp_path / "broken", classes=(0, 1), per_class=3)
    (root / "digit_0" / "zzz.png").write_bytes(b"not a png")
    with pytest.raises(
        ValueError, match=r"^data='.*broken': digit_0/zzz.png: not a readable image"
    ):
        load_image_folder(root)


def test_an_empty_class_folder_is_named(tmp_path):
    root = digits_folder(tmp_path / "empty", classes=(0, 1), per_class=3)
    (root / "digit_9").mkdir()
    (root / "digit_9" / "notes.txt").write_text("no images here")
    with pytest.raises(ValueError, match="class folder 'digit_9' holds no images"):
        load_image_folder(root)


def test_a_csv_with_named_labels(tmp_path):
    path = blobs_csv(tmp_path / "blobs.csv")
    data = load_data(data=path, label="species", validation_split=0.25)
    assert data.input_shape == (2,) and data.num_classes == 3
    assert len(data.x_train) + len(data.x_val) + len(data.x_test) == 240
    # classes in name order: setosa 0, versicolor 1, virginica 2 (centred at 0, 4, 2)
    x = np.concatenate([data.x_train, data.x_test])
    y = np.concatenate([data.y_train, data.y_test])
    assert [round(float(x[y == k, 0].mean())) for k in range(3)] == [0, 4, 2]


def test_a_non_numeric_feature_column_is_named_with_its_line(tmp_path):
    path = write_csv(tmp_path / "bad.csv", ("a", "colour", "label"), [(1, 2, 0), (3, "red", 1)])
    with pytest.raises(
        ValueError, match=r"^data='.*bad.csv': column 'colour' is not numeric: line 3 .*'red'"
    ):
        load_csv(path, "label")


@pytest.mark.parametrize(
    "label,message",
    [
        (None, r"label must name the label column, one of a, b, label; received label=None"),
        ("target", r"has no column label='target'; the columns are a, b, label"),
    ],
)
def test_the_label_column_must_exist(tmp_path, label, message):
    path = write_csv(tmp_path / "d.csv", ("a", "b", "label"), [(1, 2, 0), (3, 4, 1)])
    with pytest.raises(ValueError, match=message):
        load_csv(path, label)


def test_csv_bad_layouts(tmp_path):
    one = write_csv(tmp_path / "one.csv", ("a", "label"), [(1, "x"), (2, "x"), (3, "x")])
    with pytest.raises(ValueError, match=r"label column 'label' holds a single class \('x'\)"):
        load_csv(one, "label")
    ragged = write_csv(tmp_path / "ragged.csv", ("a", "b", "label"), [(1, 2, 0), (3, 1)])
    with pytest.raises(ValueError, match="line 3 has 2 values; the header has 3"):
        load_csv(ragged, "label")
    with pytest.raises(ValueError, match="no such file"):
        load_csv(tmp_path / "missing.csv", "label")
    with pytest.raises(ValueError, match="must be numeric for regression; found 'x'"):
        load_csv(one, "label", regression=True)


def test_csv_regression_keeps_float_targets(tmp_path):
    rows = [(i, i * 0.5, i * 1.5) for i in range(20)]
    path = write_csv(tmp_path / "reg.csv", ("a", "b", "y"), rows)
    data = load_data(data=path, label="y", task="regression")
    assert data.y_train.dtype == np.float32 and data.output_size == 1
    assert "regression" in data.describe()


def test_options_that_do_not_apply_to_the_data_are_refused(tmp_path):
    root = digits_folder(tmp_path / "imgs", classes=(0, 1), per_class=3)
    with pytest.raises(
        ValueError, match=r"^label applies when data is a CSV file; received label="
    ):
        load_data(data=root, label="y")
    with pytest.raises(
        ValueError, match=r"^image_size applies when data is a folder of images; received "
    ):
        load_data("digits", image_size=(8, 8))
    with pytest.raises(ValueError, match=r"^validation_split must be in \[0, 1\); received "):
        load_data("digits", validation_split=1.0)
    with pytest.raises(ValueError, match="a regression loss needs float targets"):
        load_data(data=root, task="regression")


def test_the_new_app_modules_doctests_pass():
    import doctest

    import cyclr.app.layout
    import cyclr.app.snippets
    import cyclr.app.workflow

    for module in (cyclr.app.layout, cyclr.app.snippets, cyclr.app.workflow):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
