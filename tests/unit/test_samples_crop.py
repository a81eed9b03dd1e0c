"""Sample table I/O and the crop -> uncrop round trip."""

import cv2
import numpy as np
import pandas as pd
import pytest

from cmhm.data.crop_shards import CropShardError, ShardedImages, load_crops, write_shard
from cmhm.data.cropping import crop_table, read_image
from cmhm.data.labels3d import fitted_by_id, write_fitted
from cmhm.data.samples import (
    INDEX_COLUMNS,
    SampleTable,
    SampleTableError,
    empty_arrays,
    read_table,
    write_table,
)
from cmhm.geometry.image_warp import warp_image
from cmhm.geometry.similarity import box_to_crop_affine


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
    prov = {"config": {"size": 64, "box_scale": 1.3}, "code_version": "v-test"}
    crop_table(read_table(t.root), size=64, box_scale=1.3, prefix=tmp_path / "c" / "shard0", provenance=prov)
    crops = load_crops([tmp_path / "c" / "shard0"])
    assert crops.images.shape == (4, 64, 64, 3) and crops.images.dtype == np.uint8
    # the shard carries its writer's record; it is not one of the label arrays
    assert crops.provenance == [prov] and "provenance" not in crops.arrays
    back = crops.to_image(crops.arrays["lm2d"])
    assert np.nanmax(np.abs(back - t.arrays["lm2d"])) < 1e-3
    back3 = crops.to_image(crops.arrays["lm3d_68"][..., :2])
    assert np.nanmax(np.abs(back3 - t.arrays["lm3d_68"][..., :2])) < 1e-3
    # depth scales with the crop
    ratio = crops.arrays["lm3d_68"][..., 2] / t.arrays["lm3d_68"][..., 2]
    expected = np.broadcast_to(crops.index["crop_scale"].to_numpy()[:, None], ratio.shape)
    np.testing.assert_allclose(ratio, expected, rtol=1e-5)


def test_fitted_3d_labels_join_the_crops_by_sample_id(tmp_path):
    """Fitted labels written in another order reach each crop by sample id, through the crop's transform,
    in the table's dtype; a sample without fitted labels or a wrong shape is an error naming the file."""
    t = _table(tmp_path / "t", n=4)
    write_table(t, t.root, {})
    rng = np.random.default_rng(1)
    fitted = {"lm3d_68": rng.uniform(20, 70, (4, 68, 3)), "lm3d_84": rng.uniform(20, 70, (4, 84, 3))}
    order = np.array([2, 0, 3, 1])
    path = str(tmp_path / "train_labels.npz")
    pose = {"yaw": rng.uniform(-90, 90, 4), "residual": rng.uniform(0, 1, 4)}  # the fit's, not labels
    write_fitted(
        path, np.array(["s2", "s0", "s3", "s1"]), {k: v[order] for k, v in {**fitted, **pose}.items()}
    )
    table = read_table(t.root)
    joined = fitted_by_id(path, table.index["sample_id"].to_numpy(str))
    assert sorted(joined) == ["lm3d_68", "lm3d_84"]
    np.testing.assert_array_equal(joined["lm3d_84"], fitted["lm3d_84"])
    crop_table(table, size=64, box_scale=1.3, prefix=tmp_path / "c", labels=joined)
    crops = load_crops([tmp_path / "c"])
    assert crops.arrays["lm3d_84"].dtype == table.arrays["lm3d_84"].dtype
    back = crops.to_image(crops.arrays["lm3d_84"][..., :2])
    np.testing.assert_allclose(back, fitted["lm3d_84"][..., :2], atol=1e-3)
    # the 2D labels are the table's own
    np.testing.assert_allclose(crops.to_image(crops.arrays["lm2d"]), t.arrays["lm2d"], atol=1e-3)
    with pytest.raises(ValueError, match="train_labels.npz: no fitted 3D labels for 1 of 5"):
        fitted_by_id(path, np.array(["s0", "s1", "s2", "s3", "s9"]))
    with pytest.raises(CropShardError, match="shape"):
        crop_table(table, 64, 1.3, tmp_path / "d", labels={"lm3d_68": fitted["lm3d_68"][:3]})
    assert not list(tmp_path.glob("d*"))


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


def test_streamed_crop_file_equals_the_in_memory_array(tmp_path):
    t = _table(tmp_path / "t", n=5)
    write_table(t, t.root, {})
    table = read_table(t.root)
    crop_table(table, size=48, box_scale=1.3, prefix=tmp_path / "c" / "shard0")
    A = box_to_crop_affine(table.boxes(), 48, 1.3)
    in_memory = np.stack([warp_image(read_image(table.image_path(i)), A[i], 48) for i in range(len(table))])
    np.save(tmp_path / "in_memory.npy", in_memory)
    streamed = tmp_path / "c" / "shard0.images.npy"
    assert streamed.read_bytes() == (tmp_path / "in_memory.npy").read_bytes()  # header and data
    np.testing.assert_array_equal(np.load(streamed, mmap_mode="r"), in_memory)


def test_failed_crop_keeps_the_previous_shard_and_leaves_no_temporaries(tmp_path):
    t = _table(tmp_path / "t", n=3)
    write_table(t, t.root, {})
    prefix = tmp_path / "c" / "shard0"
    crop_table(read_table(t.root), size=32, box_scale=1.2, prefix=prefix)
    before = {p.name: p.read_bytes() for p in (tmp_path / "c").iterdir()}
    (t.root / "images" / "2.png").write_bytes(b"not an image")  # the last crop fails, two are streamed
    with pytest.raises(CropShardError, match="2.png"):
        crop_table(read_table(t.root), size=40, box_scale=1.2, prefix=prefix)
    assert {p.name: p.read_bytes() for p in (tmp_path / "c").iterdir()} == before


def test_write_shard_refuses_a_crop_count_that_disagrees_with_the_index(tmp_path):
    index = pd.DataFrame({"sample_id": ["a", "b", "c"]})
    labels = {"transform": np.zeros((3, 2, 3))}
    crops = (np.zeros((8, 8, 3), np.uint8) for _ in range(2))
    with pytest.raises(CropShardError, match="2 crops written, the index lists 3"):
        write_shard(tmp_path / "s", crops, labels, index, image_shape=(8, 8, 3))
    with pytest.raises(CropShardError, match="expected uint8"):
        write_shard(tmp_path / "s", [np.zeros((8, 8, 3))] * 3, labels, index, image_shape=(8, 8, 3))
    assert not list(tmp_path.iterdir())


def test_sharded_images_index_like_the_concatenated_array():
    rng = np.random.default_rng(0)
    parts = [rng.integers(0, 255, (n, 4, 4, 3), dtype=np.uint8) for n in (3, 1, 5)]
    whole, view = np.concatenate(parts), ShardedImages(parts)
    assert view.shape == whole.shape and len(view) == 9 and view.dtype == np.uint8 and view.ndim == 4
    mask = rng.random(9) < 0.5
    keys = (0, 3, -1, np.int64(8), slice(2, 7), slice(None, None, -2), np.array([8, 0, 3, 3]), [4, 1], mask)
    for key in (*keys, (5, ..., 0), (np.array([7, 2]), 1), (slice(1, 4), ..., slice(0, 2))):
        np.testing.assert_array_equal(view[key], whole[key], err_msg=str(key))
    np.testing.assert_array_equal(np.asarray(view), whole)
    with pytest.raises(IndexError):
        view[9]
    with pytest.raises(TypeError, match="first axis"):
        view[[0, 1], [0, 1]]


def test_mmap_load_of_several_shards_equals_the_in_memory_load(tmp_path):
    prefixes = []
    for k in range(3):
        t = _table(tmp_path / f"t{k}", n=k + 2, seed=k)
        write_table(t, t.root, {})
        prefixes.append(tmp_path / "c" / f"shard{k}")
        crop_table(read_table(t.root), size=32, box_scale=1.2, prefix=prefixes[-1])
    mapped, loaded = load_crops(prefixes), load_crops(prefixes, mmap=False)
    assert isinstance(mapped.images, ShardedImages) and isinstance(loaded.images, np.ndarray)
    rows = np.array([8, 0, 4, 2])
    np.testing.assert_array_equal(mapped.images[rows], loaded.images[rows])
    np.testing.assert_array_equal(np.asarray(mapped.images), loaded.images)
    single = load_crops(prefixes[:1])
    assert isinstance(single.images, np.memmap) and not single.images.flags.writeable
