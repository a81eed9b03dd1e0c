"""Sample table I/O and the crop -> uncrop round trip."""

import cv2
import numpy as np
import pandas as pd
import pytest

from cmhm.crop import crop_table
from cmhm.crops import CropShardError, load_crops
from cmhm.samples import INDEX_COLUMNS, SampleTable, SampleTableError, empty_arrays, read_table, write_table


def _table(root, n=3, size=96, seed=0):
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    rows, arrays = [], empty_arrays(n)
    for i in range(n):
        img = rng.integers(0, 255, size=(size, size, 3), dtype=np.uint8)
        cv2.imwrite(str(root / "images" / f"{i}.png"), img)
        box = np.array([20, 15, 70, 75], float) + rng.uniform(-5, 5, 4)
        rows.append(
            dict(
                sample_id=f"s{i}",
                image=f"images/{i}.png",
                width=size,
                height=size,
                yaw=10.0 * i,
                pitch=0.0,
                roll=0.0,
                box_x0=box[0],
                box_y0=box[1],
                box_x1=box[2],
                box_y1=box[3],
                view="semifrontal",
                side="",
                video="",
                frame=-1,
            )
        )
        arrays["lm2d"][i] = rng.uniform(20, 70, (68, 2))
        arrays["lm3d_68"][i] = rng.uniform(20, 70, (68, 3))
    return SampleTable(root=root, index=pd.DataFrame(rows, columns=INDEX_COLUMNS), arrays=arrays)


def test_table_round_trip(tmp_path):
    t = _table(tmp_path / "t")
    write_table(t, t.root, {"seed": 0})
    back = read_table(t.root)
    pd.testing.assert_frame_equal(back.index, t.index[list(INDEX_COLUMNS)], check_dtype=False)
    for k, v in t.arrays.items():
        np.testing.assert_array_equal(back.arrays[k], v)
    assert not list(t.root.glob(".*tmp*"))


def test_table_errors_name_the_file(tmp_path):
    t = _table(tmp_path / "t")
    write_table(t, t.root, {})
    (t.root / "labels.npz").write_bytes(b"not a zip")
    with pytest.raises(SampleTableError, match="labels.npz"):
        read_table(t.root)
    with pytest.raises(SampleTableError, match="index.csv: missing"):
        read_table(tmp_path / "nowhere")
    t.index.loc[1, "view"] = "sideways"
    with pytest.raises(SampleTableError, match="sideways"):
        write_table(t, tmp_path / "u", {})


def test_crop_uncrop_round_trip(tmp_path):
    t = _table(tmp_path / "t", n=4)
    write_table(t, t.root, {})
    crop_table(read_table(t.root), size=64, box_scale=1.3, prefix=tmp_path / "c" / "shard0")
    crops = load_crops([tmp_path / "c" / "shard0"])
    assert crops.images.shape == (4, 64, 64, 3) and crops.images.dtype == np.uint8
    back = crops.to_image(crops.arrays["lm2d"])
    assert np.nanmax(np.abs(back - t.arrays["lm2d"])) < 1e-3
    back3 = crops.to_image(crops.arrays["lm3d_68"][..., :2])
    assert np.nanmax(np.abs(back3 - t.arrays["lm3d_68"][..., :2])) < 1e-3
    # depth scales with the crop
    ratio = crops.arrays["lm3d_68"][..., 2] / t.arrays["lm3d_68"][..., 2]
    expected = np.broadcast_to(crops.index["crop_scale"].to_numpy()[:, None], ratio.shape)
    np.testing.assert_allclose(ratio, expected, rtol=1e-5)


def test_crop_pixels_follow_the_transform(tmp_path):
    """A bright dot drawn at a landmark lands at the landmark's crop coordinates."""
    t = _table(tmp_path / "t", n=1)
    img = np.zeros((96, 96, 3), np.uint8)
    img[40, 50] = 255
    cv2.imwrite(str(t.root / "images" / "0.png"), img)
    t.arrays["lm2d"][0, 0] = (50.0, 40.0)
    write_table(t, t.root, {})
    crop_table(read_table(t.root), size=160, box_scale=1.0, prefix=tmp_path / "c")
    crops = load_crops([tmp_path / "c"])
    y, x = np.unravel_index(np.argmax(crops.images[0, ..., 0]), (160, 160))
    np.testing.assert_allclose(crops.arrays["lm2d"][0, 0], (x, y), atol=1.0)


def test_crop_of_missing_image_fails_without_leftovers(tmp_path):
    t = _table(tmp_path / "t", n=2)
    write_table(t, t.root, {})
    (t.root / "images" / "1.png").unlink()
    with pytest.raises(CropShardError, match="1.png"):
        crop_table(read_table(t.root), size=32, box_scale=1.2, prefix=tmp_path / "c" / "shard0")
    assert not list((tmp_path / "c").glob("*"))
