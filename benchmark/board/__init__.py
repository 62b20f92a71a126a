"""The board: run records -> leaderboard tables, page, figures and frozen snapshots.

``aggregate`` (per-seed frame, mean and CI over seeds, ranks with tie groups) -> ``cells`` (formatted
table cells) -> ``markdown`` and ``page`` (the Markdown tables and the HTML page, as text); ``curves``
(ROC curves and slices from the records) -> ``figures`` (PNGs); ``gallery`` (dataset example images);
``render`` writes them all (``write_leaderboard``); ``snapshot`` freezes and checks published versions;
``htmlcheck`` checks the page in headless Chromium; ``significance`` holds the statistics that separate
models.
"""
