"""Hourglass models: residual blocks (:mod:`~cmhm.models.blocks`), the stacked hourglass
(:mod:`~cmhm.models.hourglass`), the Table-I variants as data (:mod:`~cmhm.models.variants`, torch-free:
the workflow reads it to build the DAG), the cascade (:mod:`~cmhm.models.cascade`), fused inference
forms (:mod:`~cmhm.models.fuse`), parameter/MAC counts (:mod:`~cmhm.models.complexity`) and the heatmaps the
models output (:mod:`~cmhm.models.heatmaps`: rendering, decoding, crop <-> map coordinates).

Import from the submodules: this file imports nothing, so that reading the variant table does not import
torch, and so that the pipeline's code hashes (static import closures) see every module a script uses.
"""
