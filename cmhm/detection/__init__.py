"""Face detection: the detector protocol, Haar and MTCNN detectors, and their calibration to the crop boxes."""
