"""Speed comparisons, each with both sides in the same run: ``python -m benchmarks`` (all, --quick)."""
