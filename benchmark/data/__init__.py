"""Data: simulate or read files, store and cache datasets (Hugging Face `datasets` on disk), split them for a task."""
