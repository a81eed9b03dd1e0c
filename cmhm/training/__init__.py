"""Training (paper Sec. IV-A): batches, augmentation, heatmap targets, losses, the loop, checkpoints."""
