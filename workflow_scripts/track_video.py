"""Track the test videos with one trained model file (rule track_video)."""

from cmhm.atomic import write_json_atomic
from cmhm.data.samples import concat_tables, read_table
from cmhm.evaluation.evaluate import save_npz, track_table, tracking_metrics
from cmhm.evaluation.track_labels import tracking_labels
from cmhm.inference.api import detector_from_record, failure_from_record
from cmhm.inference.model_file import read_cascade
from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version, provenance

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
ev = sm.params.evaluation
model = read_cascade(sm.input.model, variant=sm.wildcards.variant, seed=int(sm.wildcards.seed))
videos = [read_table(d) for d in sm.input.samples]
table = concat_tables(videos, videos[0].root)
labels = tracking_labels(table, model.markup)
tracking = model.tracking
per_frame, tracks = track_table(
    model.cascade,
    table,
    model.markup,
    model.crop.size,
    model.crop.box_scale,
    tracking["enlarge"],
    failure_from_record(tracking),
    sm.params.device,
    detector_from_record(model.detector),
    labels,
)
per_frame.to_csv(sm.output.per_frame, index=False)
save_npz(sm.output.tracks, tracks)
summary = tracking_metrics(per_frame, ev["tracking_threshold"])
write_json_atomic(
    sm.output.metrics,
    {
        **summary,
        "points": labels.points,
        "box_enlargement": tracking["enlarge"],
        "detector": model.detector["name"] if model.detector else "table",
        **({"detector_calibration": model.detector["calibration"]} if model.detector else {}),
        "failure_check": tracking["check"],
        "failure_threshold": tracking["threshold"],
        **(
            {"failure_calibration": tracking["threshold_calibration"]}
            if tracking["threshold_calibration"]
            else {}
        ),
        "variant": sm.wildcards.variant,
        "seed": int(sm.wildcards.seed),
        "model": sm.input.model,
        "provenance": provenance({**ev, "model_file": model.describe()}, code_version()),
    },
)
log.info("%s: AUC %.3f FR %.3f on %s", sm.input.model, summary["auc"], summary["failure_rate"], labels.points)
