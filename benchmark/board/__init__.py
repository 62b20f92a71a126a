"""The board: read records, aggregate over seeds, render tables (md, csv, html), plots and snapshots."""
