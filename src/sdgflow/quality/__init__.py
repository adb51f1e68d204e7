"""Data quality beyond structure: near-duplicates, diversity figures, build comparison."""
