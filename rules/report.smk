# Final outputs: Tables I and II (CSV + LaTeX), figures, and the `tables` / `figures` targets.
# Every rule here reads stored metrics or predictions only, so re-rendering never retrains.


rule table1:
    input:
        per_image=expand_eval("per_image.csv", "test_images"),
        timing=timing_file,
        quoted=quoted_rows("table1"),
        samples=configured_test_samples("test_images"),
    output:
        csv=report(f"results/{RUN}/tables/table1.csv", caption="report/table1.rst", category="Tables"),
        tex=f"results/{RUN}/tables/table1.tex",
    log:
        f"logs/table1/{RUN}.log",
    conda:
        "../envs/cmhm.yaml"
    params:
        variants=config["variants"],
        test_split=source("test_images")[1],
        code=script_code("table1.py"),
    script:
        "../workflow_scripts/table1.py"


rule table2:
    input:
        per_frame=expand_eval("per_frame.csv", "test_video"),
        metrics=expand_eval("tracking_metrics.json", "test_video"),
        quoted=quoted_rows("table2"),
        samples=configured_test_samples("test_video"),
    output:
        csv=report(f"results/{RUN}/tables/table2.csv", caption="report/table2.rst", category="Tables"),
        tex=f"results/{RUN}/tables/table2.tex",
    log:
        f"logs/table2/{RUN}.log",
    conda:
        "../envs/cmhm.yaml"
    params:
        variants=config["variants"],
        threshold=config["evaluation"]["tracking_threshold"],
        code=script_code("table2.py"),
    script:
        "../workflow_scripts/table2.py"


rule plot_results:
    input:
        per_image=expand_eval("per_image.csv", "test_images"),
        image_metrics=expand_eval("image_metrics.json", "test_images"),
        per_frame=expand_eval("per_frame.csv", "test_video"),
        predictions=expand_eval("predictions.npz", "test_images"),
    output:
        ced_images=report(
            f"results/{RUN}/figures/ced_images.png", caption="report/ced_images.rst", category="Figures"
        ),
        ced_images_pdf=f"results/{RUN}/figures/ced_images.pdf",
        ced_images_svg=f"results/{RUN}/figures/ced_images.svg",
        ced_video=report(
            f"results/{RUN}/figures/ced_video.png", caption="report/ced_video.rst", category="Figures"
        ),
        ced_video_pdf=f"results/{RUN}/figures/ced_video.pdf",
        ced_video_svg=f"results/{RUN}/figures/ced_video.svg",
        nme_by_yaw=report(
            f"results/{RUN}/figures/nme_by_yaw.png", caption="report/nme_by_yaw.rst", category="Figures"
        ),
        nme_by_yaw_pdf=f"results/{RUN}/figures/nme_by_yaw.pdf",
        nme_by_yaw_svg=f"results/{RUN}/figures/nme_by_yaw.svg",
        qualitative=report(
            f"results/{RUN}/figures/qualitative.png", caption="report/qualitative.rst", category="Figures"
        ),
        qualitative_pdf=f"results/{RUN}/figures/qualitative.pdf",
        qualitative_svg=f"results/{RUN}/figures/qualitative.svg",
    log:
        f"logs/plot_results/{RUN}.log",
    conda:
        "../envs/cmhm.yaml"
    params:
        variants=config["variants"],
        evaluation=config_keys("evaluation", "ced_max_images", "tracking_threshold", "n_examples"),
        code=script_code("plot_results.py"),
    script:
        "../workflow_scripts/plot_results.py"


rule plot_training:
    input:
        model="results/{run}/models/{variant}/seed{seed}/{stage}/model.pt",
    output:
        png=report(
            "results/{run}/figures/training/{variant}/seed{seed}/loss_{stage}.png",
            caption="report/training_loss.rst",
            category="Training",
            subcategory="{variant}",
        ),
        pdf="results/{run}/figures/training/{variant}/seed{seed}/loss_{stage}.pdf",
        svg="results/{run}/figures/training/{variant}/seed{seed}/loss_{stage}.svg",
    log:
        "logs/plot_training/{run}/{variant}/seed{seed}/{stage}.log",
    conda:
        "../envs/cmhm.yaml"
    params:
        code=script_code("plot_training.py"),
    script:
        "../workflow_scripts/plot_training.py"


rule floors:
    input:
        crops=test_image_crops,
        heldout=heldout_fit,
        arms=floor_arm_files,
        model=codec_model_file,
    output:
        csv=report(f"results/{RUN}/tables/floors.csv", caption="report/floors.rst", category="Tables"),
        tex=f"results/{RUN}/tables/floors.tex",
    log:
        f"logs/floors/{RUN}.log",
    conda:
        "../envs/cmhm.yaml"
    params:
        arms=floor_arms(),
        markup3d=config["model"]["markup3d"],
        code=script_code("floors.py"),
    script:
        "../workflow_scripts/floors.py"


rule tables:
    input:
        rules.table1.output,
        rules.table2.output,
        rules.floors.output,


rule figures:
    input:
        rules.plot_results.output,
        data_figures(),
        training_figures(),


rule predict_demo:
    input:
        model=demo_model,
        samples=configured_test_samples("test_images"),
    output:
        report(
            directory(f"results/{RUN}/predict"),
            patterns=["{name}.png"],
            caption="report/predict_demo.rst",
            category="Use a trained model",
        ),
    log:
        f"logs/predict_demo/{RUN}.log",
    conda:
        "../envs/cmhm.yaml"
    params:
        n=config["evaluation"]["n_examples"],
        device=config["evaluation"]["device"],
        code=script_code("predict_demo.py"),
    script:
        "../workflow_scripts/predict_demo.py"
