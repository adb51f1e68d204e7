"""sdgflow: declarative, reproducible synthetic tool-calling SFT data on Snakemake."""

__version__ = "0.1.0"
