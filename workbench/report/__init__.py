"""The comparison report: reads run directories only, never models."""
