"""The paper's configurations as DAGs, and the real-data rules (download / placed_archive / extract / adapt)."""

import re
import shutil
import zipfile

import cv2
import numpy as np
import pytest
import scipy.io

from .conftest import data_dirs, snakemake

pytestmark = pytest.mark.workflow

GPU_RULES = ("train_stage1", "train_stage2", "predict_images", "track_video", "timing")
TRAIN_RULES = ("train_stage1", "train_stage2")


def job_counts(out: str) -> dict[str, int]:
    """The dry run's "Job stats" table as {rule: count}."""
    table = out.split("Job stats:")[1].split("total")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.MULTILINE)}


def job_blocks(out: str) -> list[tuple[str, str]]:
    """(rule, block text) for every job the dry run prints."""
    return re.findall(r"^(?:local)?rule (\w+):\n((?:    .*\n)+)", out, re.MULTILINE)


@pytest.fixture
def fresh(workdir):
    """The workflow copy without any archive (a checkout's data/ may hold real ones)."""
    shutil.rmtree(workdir / "data", ignore_errors=True)
    return workdir


def test_paper_dry_run_lists_every_job_with_its_resources(fresh):
    res = snakemake(["-n", "--configfile", "configs/paper.yaml"], cwd=fresh)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    counts = job_counts(res.stdout)
    print("paper.yaml dry run:", counts)
    expected = {
        "download": 1,
        "placed_archive": 2,
        "extract": 3,
        "adapt": 21,  # datasets.*.shards: aflw2000_3d 1 + menpo2d 4 + menpo3d 16
        "crop": 21,
        "synthesize_images": 4,
        "union_mapping": 1,
        "annotations_3d": 1,
        "train_stage1": 4,
        "mean_shapes": 1,
        "train_stage2": 1,
        "assemble_model": 4,
        "predict_images": 4,
        "track_video": 4,
        "table1": 1,
        "table2": 1,
    }
    assert {k: counts.get(k) for k in expected} == expected, counts
    blocks = job_blocks(res.stdout)
    assert len(blocks) == sum(counts.values())  # every job printed, with its resources
    for rule, text in blocks:
        if rule in GPU_RULES:
            assert "gpu=1" in text, (rule, text)
        if rule in TRAIN_RULES:
            assert re.search(r"gpu=1, runtime=\d+, mem_mb=\d+", text), (rule, text)
        if rule in ("download", "placed_archive", "extract", "adapt"):
            assert "gpu=" not in text and "runtime=" in text, (rule, text)
    outputs = " ".join(text for _, text in blocks)
    folders = data_dirs(fresh, "configs/paper.yaml")
    for path in (
        "data/archives/aflw2000_3d/AFLW2000-3D.zip",
        "results/menpo2d/archive_check.json",
        f"{folders['menpo3d video samples']}/shard0",
        f"{folders['menpo3d video samples']}/shard15",
        f"{folders['menpo2d train crops']}/shard3.images.npy",
        "results/paper/models/cmhm/seed0/stage2/model.pt",
        "results/paper/models/cmhm/seed0/cascade.pt",
        "results/paper/eval/aflw2000_3d/cmhm/seed0/predictions.npz",
    ):
        assert path in outputs, path


def test_paper_300wlp_dry_run_needs_no_gated_data(fresh):
    res = snakemake(["-n", "--configfile", "configs/paper_300wlp.yaml"], cwd=fresh)
    assert res.returncode == 0, res.stdout + res.stderr
    counts = job_counts(res.stdout)
    assert "placed_archive" not in counts and counts["download"] == 2 and counts["train_stage1"] == 4, counts
    # w300_lp 12 shards + aflw2000_3d 1; crops also of the 4 synthetic video shards
    assert counts["adapt"] == 13 and counts["crop"] == 17, counts
    assert f"{data_dirs(fresh, 'configs/paper_300wlp.yaml')['w300_lp train samples']}/shard11" in res.stdout


def test_missing_gated_archive_fails_with_the_instructions(fresh):
    res = snakemake(["results/menpo2d/raw", "--cores", "1", "--configfile", "configs/paper.yaml"], cwd=fresh)
    err = res.stdout + res.stderr
    assert res.returncode != 0
    assert "licence-gated and must be placed by hand" in err, err
    assert "data/archives/menpo2d/menpo2d.zip" in err and "https://ibug.doc.ic.ac.uk/resources/" in err
    assert not (fresh / "results" / "menpo2d" / "raw").exists()


def test_a_split_the_dataset_lacks_is_named(fresh):
    target = f"{data_dirs(fresh, '--split', 'menpo2d:test')['menpo2d test samples']}/shard0"
    res = snakemake(["-n", target], cwd=fresh)
    assert res.returncode != 0
    assert "provides split(s) train only, not 'test'" in res.stdout + res.stderr


def test_a_shard_beyond_the_configured_count_is_named(fresh):
    target = f"{data_dirs(fresh, 'configs/paper.yaml')['menpo2d train samples']}/shard4"
    res = snakemake(["-n", target, "--configfile", "configs/paper.yaml"], cwd=fresh)
    assert res.returncode != 0
    assert "cut into 4 shards (datasets.menpo2d.shards): there is no shard4" in res.stdout + res.stderr


def test_a_generated_shard_beyond_the_configured_count_is_named(fresh):
    """The synthetic dataset is a registry entry like the real ones: the same request check names its key."""
    res = snakemake(["-n", f"{data_dirs(fresh)['synth train samples']}/shard9"], cwd=fresh)
    assert res.returncode != 0
    assert "cut into 2 shards (synth.train.shards): there is no shard9" in res.stdout + res.stderr


def _image(path, w=120, h=100):
    cv2.imwrite(str(path), np.full((h, w, 3), 128, np.uint8))


def _tiny_300w_lp(root):
    """Two 300W-LP-like samples (image, .mat pose, landmarks/<subset>/<stem>_pts.mat) under root/300W_LP."""
    rng = np.random.default_rng(0)
    sub, marks = root / "300W_LP" / "AFW", root / "300W_LP" / "landmarks" / "AFW"
    sub.mkdir(parents=True)
    marks.mkdir(parents=True)
    for stem in ("AFW_1_0", "AFW_2_0"):
        _image(sub / f"{stem}.jpg")
        scipy.io.savemat(sub / f"{stem}.mat", {"Pose_Para": np.array([[0.0, 0.1, 0.0, 0, 0, 0, 1e-3]])})
        pts = {"pts_2d": rng.uniform(20, 90, (68, 2)) + 1, "pts_3d": rng.uniform(20, 90, (68, 2)) + 1}
        scipy.io.savemat(marks / f"{stem}_pts.mat", pts)


def _zip_dir(folder, archive):
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(folder.rglob("*")):
            zf.write(p, p.relative_to(folder).as_posix())


def test_public_archive_is_downloaded_unpacked_and_adapted(fresh, tmp_path):
    _tiny_300w_lp(tmp_path / "src")
    _zip_dir(tmp_path / "src", tmp_path / "300W-LP.zip")
    url = (tmp_path / "300W-LP.zip").as_uri()
    (fresh / "lp.yaml").write_text(f"datasets:\n  w300_lp:\n    url: {url}\n    shards: 2\n")
    samples = data_dirs(fresh, "lp.yaml", "--split", "w300_lp:train")["w300_lp train samples"]
    targets = [f"{samples}/shard0", f"{samples}/shard1"]
    res = snakemake([*targets, "--cores", "1", "--configfile", "lp.yaml"], cwd=fresh)
    assert res.returncode == 0, res.stdout + res.stderr
    archive = fresh / "data" / "archives" / "w300_lp" / "300W-LP.zip"
    assert archive.read_bytes() == (tmp_path / "300W-LP.zip").read_bytes()
    assert (archive.parent / "300W-LP.zip.sha256").is_file()  # no pinned hash: the computed one is recorded
    manifest = (fresh / "results" / "w300_lp" / "raw_manifest.csv").read_text().splitlines()
    assert manifest[0] == "path,bytes,sha256" and len(manifest) == 1 + 6
    shards = [(fresh / t / "index.csv").read_text() for t in targets]  # one sample each, in sorted order
    assert "AFW/AFW_1_0" in shards[0] and "AFW/AFW_2_0" in shards[1]
    assert "AFW/AFW_2_0" not in shards[0] and "AFW/AFW_1_0" not in shards[1]


def test_placed_gated_archive_is_checked_and_adapted(fresh, tmp_path):
    video = tmp_path / "src" / "menpo3d" / "vid_a"
    video.mkdir(parents=True)
    xyz = np.random.default_rng(1).uniform(10, 90, (84, 3))
    (video / "000003.pts").write_text(
        "version: 1\nn_points: 84\n{\n" + "".join(f"{x} {y} {z}\n" for x, y, z in xyz) + "}\n"
    )
    _image(video / "000003.jpg")
    archive = fresh / "data" / "archives" / "menpo3d" / "menpo3d_tracking.zip"
    archive.parent.mkdir(parents=True)
    _zip_dir(tmp_path / "src", archive)
    samples = f"{data_dirs(fresh, '--split', 'menpo3d:video')['menpo3d video samples']}/shard0"
    res = snakemake([samples, "--cores", "1"], cwd=fresh)
    assert res.returncode == 0, res.stdout + res.stderr
    assert '"sha256"' in (fresh / "results" / "menpo3d" / "archive_check.json").read_text()
    index = (fresh / samples / "index.csv").read_text()
    assert "vid_a/000003" in index
