"""Training curves and diagnostics of trained representations and top-K lists."""
