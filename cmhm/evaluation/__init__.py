"""Evaluation (paper Sec. IV): metrics, prediction of the test images, tracking and its failure checks, floors.

The face detectors the tracker re-detects with sit in a lower layer, :mod:`cmhm.detection`.
"""
