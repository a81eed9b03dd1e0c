"""Evaluation (paper Sec. IV): metrics, prediction of the test images, tracking, face detectors, floors."""
