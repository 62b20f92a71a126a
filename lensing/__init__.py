"""Differentiable, batched strong-lensing simulator in torch (no ML, no harness)."""
