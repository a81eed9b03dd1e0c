"""Each fact has one home (issue 14 section 2); where a copy must exist (the JSON schema cannot import
Python), a test holds it to the source."""

from __future__ import annotations

from pathlib import Path

import yaml

from cmhm.bench.inference import VARIANT_NAMES
from cmhm.data.samples import ARRAY_MARKUPS, ARRAY_SPECS, PROJ3D_ARRAYS, REQUIRED_ARRAYS, UNION_ARRAY
from cmhm.landmarks.markups import get_markup
from cmhm.models.cascade import UNION_MARKUP
from cmhm.pipeline.variants import PAPER_VARIANTS, VARIANTS
from cmhm.report.tables import VARIANT_LABELS

SCHEMA = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "rules/schemas/config.schema.yaml").read_text()
)


def test_variant_names_come_from_the_variant_table() -> None:
    schema = SCHEMA["properties"]["variants"]
    assert schema["items"]["enum"] == list(VARIANTS)
    assert schema["default"] == list(PAPER_VARIANTS) == list(VARIANTS)[: len(PAPER_VARIANTS)]
    assert list(VARIANT_LABELS) == list(VARIANTS)  # table rows in Table I order
    assert set(VARIANT_NAMES) <= set(VARIANTS) and VARIANT_NAMES[: len(PAPER_VARIANTS)] == PAPER_VARIANTS
    for name in VARIANTS:
        assert name in schema["description"]


def test_every_label_array_has_one_markup_of_its_size() -> None:
    assert set(ARRAY_SPECS) | {UNION_ARRAY} == set(ARRAY_MARKUPS)
    assert set(REQUIRED_ARRAYS) <= set(ARRAY_MARKUPS)
    for name, (shape, _) in ARRAY_SPECS.items():
        assert shape[0] == get_markup(ARRAY_MARKUPS[name]).n_points, name
    assert {get_markup(m).n_points for m in PROJ3D_ARRAYS} == {68, 84}
    assert all(ARRAY_SPECS[a][0][1] == 3 for a in PROJ3D_ARRAYS.values())  # 3D label arrays
    assert UNION_MARKUP.name == ARRAY_MARKUPS[UNION_ARRAY]


def test_the_workflow_builds_its_dag_without_torch() -> None:
    """Every cmhm module the Snakefile and rules import at parse time loads without torch (a dry run on a
    login node without a GPU stack must work, and fast)."""
    import re  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    root = Path(__file__).resolve().parents[2]
    texts = [(root / "Snakefile").read_text(), *(f.read_text() for f in (root / "rules").glob("*.smk"))]
    modules = sorted({m for t in texts for m in re.findall(r"^\s*from (cmhm[\w.]*) import", t, re.M)})
    assert "cmhm.pipeline.variants" in modules and "cmhm.pipeline.config_check" in modules
    code = f"import sys, importlib; [importlib.import_module(m) for m in {modules!r}]; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "False", modules
