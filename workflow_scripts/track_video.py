"""Track the test videos with one trained variant (rule track_video)."""

from cmhm.evaluate import (
    box_enlargement,
    failure_check,
    load_cascade,
    redetector,
    save_npz,
    track_table,
    tracking_metrics,
)
from cmhm.logs import log_to
from cmhm.provenance import code_version, provenance, write_json_atomic
from cmhm.samples import concat_tables, read_table

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
ev, crop = sm.params.evaluation, sm.params.crop
weights = [p for p in sm.input.models if p.endswith(".pt")]
means = [p for p in sm.input.models if p.endswith("mean_shape.npy")]
cascade = load_cascade(
    weights,
    means[0] if means else None,
    variant=sm.wildcards.variant,
    markup3d=sm.params.markup3d,
    in_size=crop["size"],
)
videos = [read_table(d) for d in sm.input.samples]
train = concat_tables([read_table(d) for d in sm.input.train], videos[0].root)
enlarge = box_enlargement(train, sm.params.markup3d)
detector = redetector(ev["detector"], ev["haar_cascade"], train, ev["calibration_faces"])
failure, failure_record = failure_check(
    ev["failure_check"],
    ev["failure_confidence"],
    ev["onet_threshold"],
    train,
    sm.params.markup3d,
    enlarge,
    detector,
    ev["calibration_faces"],
)
per_frame, tracks = track_table(
    cascade,
    concat_tables(videos, videos[0].root),
    sm.params.markup3d,
    crop["size"],
    crop["box_scale"],
    enlarge,
    failure,
    sm.params.device,
    detector,
)
per_frame.to_csv(sm.output.per_frame, index=False)
save_npz(sm.output.tracks, tracks)
summary = tracking_metrics(per_frame, ev["tracking_threshold"])
write_json_atomic(
    sm.output.metrics,
    {
        **summary,
        "box_enlargement": enlarge,
        "detector": ev["detector"],
        **({"detector_calibration": vars(detector.calibration)} if detector else {}),
        **failure_record,
        "variant": sm.wildcards.variant,
        "provenance": provenance(ev, code_version()),
    },
)
log.info("%s: AUC %.3f FR %.3f", sm.wildcards.variant, summary["auc"], summary["failure_rate"])
