"""Development benchmarks: result tables from public packages, turned into import tables."""
