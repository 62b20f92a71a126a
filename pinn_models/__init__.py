"""LensBench pinn_models (registered through entry points)."""
