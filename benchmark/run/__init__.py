"""Runs: train a model on a task, evaluate once on test, write the record and the MLflow run; sweeps and submissions."""
