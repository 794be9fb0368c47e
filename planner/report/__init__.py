"""Reports: charts (PNG, matplotlib) and the one-file HTML report."""
