# Final outputs: Tables I and II (CSV + LaTeX), figures, and the `tables` / `figures` targets.
# Every rule here reads stored metrics or predictions only, so re-rendering never retrains.


rule table1:
    input:
        metrics=expand_eval("image_metrics.json", "test_images"),
        per_image=expand_eval("per_image.csv", "test_images"),
        timing=timing_file,
        quoted=quoted_rows("table1"),
        samples=configured_test_samples("test_images"),
    output:
        csv=report("results/tables/table1.csv", caption="report/table1.rst", category="Tables"),
        tex="results/tables/table1.tex",
    log:
        "logs/table1/table1.log",
    params:
        variants=config["variants"],
        code=source_hash("tables.py", "published.py", "metrics.py"),
    conda:
        "../envs/cmhm.yaml"
    script:
        "../workflow_scripts/table1.py"


rule table2:
    input:
        metrics=expand_eval("tracking_metrics.json", "test_video"),
        quoted=quoted_rows("table2"),
        samples=configured_test_samples("test_video"),
    output:
        csv=report("results/tables/table2.csv", caption="report/table2.rst", category="Tables"),
        tex="results/tables/table2.tex",
    log:
        "logs/table2/table2.log",
    params:
        variants=config["variants"],
        threshold=config["evaluation"]["tracking_threshold"],
        code=source_hash("tables.py", "published.py"),
    conda:
        "../envs/cmhm.yaml"
    script:
        "../workflow_scripts/table2.py"


rule plot_results:
    input:
        per_image=expand_eval("per_image.csv", "test_images"),
        image_metrics=expand_eval("image_metrics.json", "test_images"),
        per_frame=expand_eval("per_frame.csv", "test_video"),
        predictions=expand_eval("predictions.npz", "test_images"),
    output:
        ced_images=report("results/figures/ced_images.png", caption="report/ced_images.rst", category="Figures"),
        ced_images_pdf="results/figures/ced_images.pdf",
        ced_video=report("results/figures/ced_video.png", caption="report/ced_video.rst", category="Figures"),
        ced_video_pdf="results/figures/ced_video.pdf",
        nme_by_yaw=report("results/figures/nme_by_yaw.png", caption="report/nme_by_yaw.rst", category="Figures"),
        nme_by_yaw_pdf="results/figures/nme_by_yaw.pdf",
        qualitative=report("results/figures/qualitative.png", caption="report/qualitative.rst", category="Figures"),
        qualitative_pdf="results/figures/qualitative.pdf",
    log:
        "logs/plot_results/plot_results.log",
    params:
        variants=config["variants"],
        evaluation=config["evaluation"],
        code=source_hash("plots_eval.py", "plots.py", "metrics.py"),
    conda:
        "../envs/cmhm.yaml"
    script:
        "../workflow_scripts/plot_results.py"


rule tables:
    input:
        rules.table1.output,
        rules.table2.output,


rule figures:
    input:
        rules.plot_results.output,
        data_figures(),
