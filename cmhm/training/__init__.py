"""Training (paper Sec. IV-A): batches, augmentation, losses, the loop, checkpoints."""
