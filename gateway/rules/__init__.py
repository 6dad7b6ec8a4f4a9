"""Rules that turn events into governance tickets: one module per family (see `base`)."""
