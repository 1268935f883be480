"""Vision: open_clip models on the shared data layer, protocols and run directories."""
