"""The real-face two-fold configs (configs/real_faces_{a,b}.yaml) as DAGs, without the AFLW2000-3D archive:
training reads only the training fold's crops, testing only the other fold's, and a config whose test
source can share faces with training stops before any job."""

import re
import shutil

import pytest

from .conftest import COPY_IGNORE, REPO, data_dirs, snakemake
from .test_paper_dag import job_blocks, job_counts

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """One workflow copy without any archive (a checkout's data/ may hold the real one), for the module."""
    dest = tmp_path_factory.mktemp("real_faces") / "wf"
    shutil.copytree(REPO, dest, ignore=COPY_IGNORE)
    shutil.rmtree(dest / "data", ignore_errors=True)
    (dest / "results").mkdir(exist_ok=True)
    return dest


def inputs(text: str) -> str:
    m = re.search(r"^    input: (.*)$", text, re.MULTILINE)
    return m[1] if m else ""


@pytest.mark.parametrize(
    "name, train, test", [("real_faces_a", "fold0", "fold1"), ("real_faces_b", "fold1", "fold0")]
)
def test_real_faces_dry_run_trains_on_one_fold_and_tests_on_the_other(fresh, name, train, test):
    res = snakemake(["-n", "--configfile", f"configs/{name}.yaml"], cwd=fresh)
    assert res.returncode == 0, res.stdout + res.stderr
    counts = job_counts(res.stdout)
    print(f"{name} dry run:", counts)
    expected = {
        "download": 1,
        "extract": 1,
        "adapt": 2,
        "train_stage1": 4,
        "train_stage2": 1,
        "predict_images": 4,
    }
    assert {k: counts.get(k) for k in expected} == expected, counts
    blocks = job_blocks(res.stdout)
    outputs = " ".join(text for _, text in blocks)
    # the two folds are adapted by id; the whole 2,000-face split is never adapted in these runs
    folders = data_dirs(fresh, f"configs/{name}.yaml")
    assert f"{folders[f'aflw2000_3d {train} samples']}/shard0" in outputs
    assert f"{folders[f'aflw2000_3d {test} samples']}/shard0" in outputs
    assert "results/aflw2000_3d/samples/test/" not in outputs
    train_crops, test_crops = (folders[f"aflw2000_3d {fold} crops"] for fold in (train, test))
    checked = {"train": 0, "test": 0}
    for rule, text in blocks:
        used = inputs(text)
        if rule in ("train_stage1", "train_stage2", "mean_shapes"):
            assert f"{train_crops}/" in used and f"crops/{test}/" not in used, text
            checked["train"] += 1
        if rule == "predict_images" and "eval/aflw2000_3d/" in text:
            assert f"{test_crops}/" in used and f"crops/{train}/" not in used, text
            checked["test"] += 1
    assert checked == {"train": 6, "test": 4}, checked
    assert f"results/{name}/tables/table1.csv" in outputs


def test_a_test_fold_that_trains_is_refused_before_any_job(fresh):
    res = snakemake(
        [
            "-n",
            "--configfile",
            "configs/real_faces_a.yaml",
            "--config",
            "data={test_images: {dataset: aflw2000_3d, split: fold0}}",
        ],
        cwd=fresh,
    )
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "data.test_images: aflw2000_3d split 'fold0' can share faces with the training source" in out, out


def test_sim_to_real_dry_run_trains_on_synthetic_faces_and_tests_on_all_of_aflw2000(fresh):
    res = snakemake(["-n", "--configfile", "configs/real_faces_sim.yaml"], cwd=fresh)
    assert res.returncode == 0, res.stdout + res.stderr
    folders = data_dirs(fresh, "configs/real_faces_sim.yaml")
    for rule, text in job_blocks(res.stdout):
        if rule == "train_stage1":
            assert f"{folders['synth train crops']}/" in inputs(text) and "aflw2000_3d" not in inputs(text), (
                text
            )
        if rule == "predict_images" and "eval/aflw2000_3d/" in text:
            assert f"{folders['aflw2000_3d test crops']}/shard0" in inputs(text), text
    assert job_counts(res.stdout)["train_stage1"] == 4


@pytest.mark.parametrize("overlay", ["mixed_a", "size128_a"])
def test_overlay_dry_runs_train_on_fold0_and_never_on_the_test_fold(fresh, overlay):
    """configs/real_faces/{mixed,size128}_a.yaml over real_faces_a.yaml: two variants (three training
    jobs); the mixed run's training jobs read the synthetic crops and fold 0's, never fold 1's."""
    files = ["configs/real_faces_a.yaml", f"configs/real_faces/{overlay}.yaml"]
    res = snakemake(["-n", "--configfile", *files], cwd=fresh)
    assert res.returncode == 0, res.stdout + res.stderr
    counts = job_counts(res.stdout)
    assert (counts["train_stage1"], counts["train_stage2"]) == (2, 1), counts
    folders = data_dirs(fresh, *files)
    trained = 0
    for rule, text in job_blocks(res.stdout):
        if rule in ("train_stage1", "train_stage2", "mean_shapes"):
            used = inputs(text)
            assert f"{folders['aflw2000_3d fold0 crops']}/" in used and "crops/fold1/" not in used, text
            assert ("results/synth/crops/train/" in used) == (overlay == "mixed_a"), text
            trained += 1
    assert (
        trained == 4
        and f"results/real_faces_{overlay.replace('size128_a', 'a128')}/tables/table1.csv" in res.stdout
    )
