"""A rule reruns when the code its script imports changes, and only then (issue 24's acceptance).

Each test makes a completed run out of nothing: every output the dry run lists is created empty (a
folder for a ``directory()`` output, the outputs without a suffix) and ``snakemake --touch --forceall``
records each job's metadata, its ``code`` param included, as a real run would. Then one ``cmhm``
source file of the copy is touched and the dry run says which jobs would rerun. The copy's ``cmhm/`` is
the one Snakemake imports (``python -m snakemake`` puts the working folder first on the path), so its
code hashes see the touched file; each test checks that some job does rerun.
"""

import shutil
from pathlib import Path

import pytest

from cmhm.pipeline.provenance import import_closure

from .conftest import REPO, snakemake
from .test_paper_dag import job_counts

pytestmark = pytest.mark.workflow

VIDEO_300VW = """\
data:
  train: {dataset: synth, split: train}
  test_images: {dataset: synth, split: test}
  test_video: {dataset: 300vw, split: video}
"""
DATA_AND_TRAINING = (
    "synthesize_images",
    "synthesize_video",
    "crop",
    "union_mapping",
    "annotations_3d",
    "mean_shapes",
    "train_stage1",
    "train_stage2",
)


def completed(workdir: Path, args: list[str]) -> None:
    """Turn the copy ``workdir`` into a finished run of ``args``: empty outputs, job metadata recorded."""
    summary = snakemake(["--summary", "-c1", *args], cwd=workdir)
    assert summary.returncode == 0, summary.stderr[-3000:]
    for line in summary.stdout.splitlines()[1:]:
        path = workdir / line.split("\t")[0]
        if path.suffix:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        else:
            path.mkdir(parents=True, exist_ok=True)
    touched = snakemake(["--touch", "--forceall", "-c1", *args], cwd=workdir)
    assert touched.returncode == 0, touched.stderr[-3000:]
    assert "Nothing to be done" in snakemake(["-n", "-c1", *args], cwd=workdir).stdout


def planned_after_touching(workdir: Path, module: str, args: list[str]) -> dict[str, int]:
    """{rule: jobs} the dry run plans once ``cmhm/<module>`` of the completed copy has changed."""
    completed(workdir, args)
    source = workdir / "cmhm" / module
    source.write_text(source.read_text() + "# touched\n")
    res = snakemake(["-n", "-c1", *args], cwd=workdir)
    assert res.returncode == 0, res.stderr[-3000:]
    return job_counts(res.stdout) if "Job stats:" in res.stdout else {}


@pytest.mark.long(35)
def test_touching_a_metric_reruns_no_crop_and_no_training(workdir):
    planned = planned_after_touching(workdir, "evaluation/metrics.py", [])
    assert planned.get("image_metrics", 0) >= 1, planned  # the change is seen
    assert not set(DATA_AND_TRAINING) & set(planned), planned


@pytest.mark.long(32)
def test_touching_the_tracker_reruns_no_adapt(workdir):
    shutil.rmtree(workdir / "data", ignore_errors=True)  # no archive placed: the check job is planned
    (workdir / "vw.yaml").write_text(VIDEO_300VW)
    planned = planned_after_touching(workdir, "evaluation/tracking.py", ["--configfile", "vw.yaml"])
    assert planned.get("track_video", 0) >= 1, planned
    assert not {"placed_archive", "extract", "adapt", *DATA_AND_TRAINING} & set(planned), planned


@pytest.mark.parametrize(
    ("module", "scripts"),
    [
        ("evaluation/metrics.py", ["crop", "train_stage1", "train_stage2", "mean_shapes", "annotations_3d"]),
        ("evaluation/tracking.py", ["adapt", "crop", "train_stage1", "train_stage2"]),
        ("training/loop.py", ["adapt", "crop", "annotations_3d", "union_mapping"]),
    ],
)
def test_import_closures_of_earlier_phases_leave_out_later_modules(module, scripts):
    for script in scripts:
        assert module not in import_closure(REPO / "workflow_scripts" / f"{script}.py"), script
