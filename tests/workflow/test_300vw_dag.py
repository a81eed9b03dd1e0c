"""300VW as the test videos: the dry run plans the placed-archive check, unpack, adapt and tracking."""

import shutil

import pytest

from .conftest import data_dirs, snakemake
from .test_paper_dag import job_blocks, job_counts

pytestmark = pytest.mark.workflow

CONFIG = """\
data:
  train: {dataset: synth, split: train}
  test_images: {dataset: synth, split: test}
  test_video: {dataset: 300vw, split: video}
"""


def test_300vw_test_video_dry_run_plans_its_data_and_tracking_jobs(workdir):
    shutil.rmtree(workdir / "data", ignore_errors=True)  # no archive: the check job must be planned
    (workdir / "vw.yaml").write_text(CONFIG)
    res = snakemake(["-n", "--configfile", "vw.yaml"], cwd=workdir)
    assert res.returncode == 0, res.stdout + res.stderr
    counts = job_counts(res.stdout)
    assert {k: counts.get(k) for k in ("placed_archive", "extract", "adapt")} == {
        "placed_archive": 1,
        "extract": 1,
        "adapt": 1,
    }, counts
    assert counts.get("track_video", 0) >= 1 and "download" not in counts, counts
    outputs = " ".join(text for _, text in job_blocks(res.stdout))
    samples = f"{data_dirs(workdir, 'vw.yaml')['300vw video samples']}/shard0"
    for path in (
        "results/300vw/archive_check.json",
        "results/300vw/raw_manifest.csv",
        samples,
        "results/vw/eval/300vw/",
    ):
        assert path in outputs, path
    tracking = [text for rule, text in job_blocks(res.stdout) if rule == "track_video"]
    assert all(samples in text for text in tracking), tracking[0]
