"""Geometry shared by every phase: similarity transforms, Procrustes alignment and image warps."""
