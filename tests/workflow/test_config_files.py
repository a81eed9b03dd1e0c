"""Every file the config names is an input: editing it reruns what reads it (issue 10, section 2).

In a temporary copy of the workflow, every output of the target's DAG is created with one old mtime
(Snakemake then has nothing to do); editing a config-named file must make the dry run rerun its reader.
The keys come from the schema (``format: file``), so a new file key without a case here fails.
"""

import os
import re
import time
from pathlib import Path

import pytest

from cmhm.pipeline.config_check import file_keys, load_yaml

from .conftest import REPO, data_dirs, snakemake

pytestmark = pytest.mark.workflow

# One run names every file: --config overrides, the targets that read them, key -> (file, rule that reads it).
CONFIG = [
    "data={test_images: {dataset: aflw2000_3d, split: test}}",
    "datasets={aflw2000_3d: {yaw_source: file, yaw_file: yaw.csv, box_source: detector, cascade_path: faces.xml, "
    "folds: folds.csv}}",
    "evaluation={detector: haar, haar_cascade: haar.xml}",
    "quoted={table1: quoted1.csv, table2: quoted2.csv}",
]
TARGETS = [
    "{aflw}/shard0",
    "results/default/models/baseline/seed0/cascade.pt",
    "results/default/tables/table1.csv",
    "results/default/tables/table2.csv",
]
CASES = {
    "datasets.aflw2000_3d.yaw_file": ("yaw.csv", "adapt"),
    "datasets.aflw2000_3d.cascade_path": ("faces.xml", "adapt"),
    "datasets.aflw2000_3d.folds": ("folds.csv", "adapt"),
    "evaluation.haar_cascade": ("haar.xml", "assemble_model"),
    "quoted.table1": ("quoted1.csv", "table1"),
    "quoted.table2": ("quoted2.csv", "table2"),
}
# files the DAG itself reads (the fold file names the splits) stay valid: (first version, edited version)
CONTENTS = {"folds.csv": ("image,yaw_bin,fold\na,0,0\nb,0,1\n", "image,yaw_bin,fold\na,0,1\nb,0,0\n")}
PLAIN = ("first version\n", "edited\n")


def test_every_file_key_has_a_case():
    keys = {".".join(k) for k in file_keys(load_yaml(REPO / "rules/schemas/config.schema.yaml"))}
    assert keys == set(CASES)


def dry_run(workdir: Path, *extra: str) -> str:
    aflw = data_dirs(workdir, "--config", *CONFIG)["aflw2000_3d test samples"]
    targets = [t.format(aflw=aflw) for t in TARGETS]
    res = snakemake(["-n", "--cores", "1", *extra, "--config", *CONFIG, "--", *targets], cwd=workdir)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout + res.stderr


def make_outputs(workdir: Path, out: str, mtime: float) -> None:
    """Create every output the dry run lists (paths without a suffix are directory outputs) at ``mtime``."""
    for line in re.findall(r"^    output: (.*)$", out, re.MULTILINE):
        for path in (workdir / p.strip() for p in line.split(",")):
            if path.suffix:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("")
            else:
                path.mkdir(parents=True, exist_ok=True)
            os.utime(path, (mtime, mtime))


@pytest.mark.long(45)
def test_editing_a_named_file_reruns_its_reader(workdir):
    made = time.time() - 10  # after the copy (outputs older than a script rerun), before the edits
    for name, _ in CASES.values():
        (workdir / name).write_text(CONTENTS.get(name, PLAIN)[0])
        os.utime(workdir / name, (made - 10, made - 10))
    make_outputs(workdir, dry_run(workdir, "--forceall"), made)
    assert "Nothing to be done" in dry_run(workdir), "outputs not taken as complete"
    missed = {}
    for key, (name, reader) in CASES.items():
        (workdir / name).write_text(CONTENTS.get(name, PLAIN)[1])
        out = dry_run(workdir)
        if not re.search(rf"^rule {reader}:$", out, re.MULTILINE):
            missed[key] = reader
        os.utime(workdir / name, (made - 10, made - 10))  # back to unchanged for the next key
    assert not missed, f"editing the file of these keys does not rerun the rule: {missed}"
