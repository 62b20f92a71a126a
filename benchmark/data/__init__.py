"""Data: simulate or read files, store and cache datasets (Hugging Face ``datasets`` on disk), split
them for a task.

Modules, from the bottom up: ``errors`` (``DataError``), ``paths`` (the cache, the real-data
folder), ``writer`` (checked chunks -> Arrow), ``npyfiles`` / ``readers`` (one image from a file),
``layouts`` (folders -> items, val carving), ``formats`` (LensBench's file formats), ``simulated``
(recipe -> rows), ``adapter`` (files -> rows), ``resolve`` (datasets by name), ``fingerprint``,
``cache`` (``materialise``), ``reading`` (``load_split``), ``importing`` (``import_dataset``),
``card`` (dataset card, gallery, Hub card), ``taskdata`` (a task's splits as tensors), ``sources``
(the real-data registry, ``sources.json``) and ``fetch`` (``lensbench data fetch``), ``export`` and
``croissant`` (``lensbench data export``).
"""
