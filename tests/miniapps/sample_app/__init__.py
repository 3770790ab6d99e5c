"""A mini-app used only by the manifest tests (never installed)."""
