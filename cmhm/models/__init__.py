"""Hourglass models: residual blocks (:mod:`~cmhm.models.blocks`), the stacked hourglass
(:mod:`~cmhm.models.hourglass`), the cascade (:mod:`~cmhm.models.cascade`, built from the Table-I
variants as data in :mod:`cmhm.pipeline.variants`, which the workflow and the config check read without
torch), fused inference forms (:mod:`~cmhm.models.fuse`), CUDA-graph replay (:mod:`~cmhm.models.graphs`),
parameter/MAC counts (:mod:`~cmhm.models.complexity`) and the heatmaps the models output
(:mod:`~cmhm.models.heatmaps`: rendering, decoding, crop <-> map coordinates).

Import from the submodules: this file imports nothing, so that the pipeline's code hashes (static import
closures) see every module a script uses.
"""
