"""Video faults (issue 10, section 3): gaps in a video (missing frames, a frame image without an
annotation, an annotation without its image) are named under ``fail`` and listed under ``skip``, on
COPIES of the real 300VW fixtures and on synthetic Menpo-3D style videos.
"""

from __future__ import annotations

import shutil

from cmhm.data.samples import read_table
from cmhm.data.shards import Shard
from cmhm.data.video import adapt_300vw, adapt_menpo3d_video

from .test_bad_samples import PROV, fixture_copy, run_both, skipped, synthetic_video


def test_300vw_gap_between_annotated_frames_is_reported(tmp_path):
    src = fixture_copy("300vw", tmp_path)  # video 001 keeps frames 6 and 9 only
    listed = run_both(adapt_300vw, src, tmp_path, str(src / "001" / "annot"), "missing frames 7-8")
    assert list(listed["sample_id"]) == ["001/gap7-8"]
    assert len(read_table(tmp_path / "skip")) == 4  # a gap drops no sample, it is reported


def test_video_frame_with_an_image_but_no_annotation_is_reported(tmp_path):
    src = fixture_copy("300vw", tmp_path)
    (src / "401" / "annot" / "000732.pts").unlink()
    out = tmp_path / "t"
    adapt_300vw(src, out, provenance=PROV, on_bad_sample="skip")
    listed = skipped(out)
    row = listed[listed["sample_id"] == "401/732"]
    assert len(row) == 1 and row["file"].iloc[0].endswith("401/imgs/000732.jpg")
    assert "has an image but no annotation" in row["reason"].iloc[0]


def test_video_annotation_without_its_frame_image_is_a_bad_sample(tmp_path):
    src = fixture_copy("300vw", tmp_path)
    shutil.rmtree(src / "001")  # its gap would be reported first
    (src / "401" / "imgs" / "000731.jpg").unlink()
    listed = run_both(adapt_300vw, src, tmp_path, "401/imgs/000731", "no image beside")
    assert list(listed["sample_id"]) == ["401/000731"]


def test_video_gaps_are_reported_once_across_shards(tmp_path):

    src = synthetic_video(tmp_path / "src", [1, 2, 5, 6, 9, 10])
    (src / "v1" / "000006.pts").unlink()  # frame 6: image, no annotation
    gaps = []
    for k in range(3):
        out = tmp_path / f"shard{k}"
        adapt_menpo3d_video(src, out, shard=Shard(k, 3), provenance=PROV, on_bad_sample="skip")
        gaps += list(skipped(out)["sample_id"])
    assert sorted(gaps) == ["v1/6", "v1/gap3-4", "v1/gap7-8"]
