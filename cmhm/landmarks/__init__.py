"""Landmarks: markups, the multi-view union mapping (paper Sec. III-B), the 3D shape model and its fitting."""
