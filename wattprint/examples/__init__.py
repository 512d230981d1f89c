"""Small bundled examples (no GPU and no extra packages needed)."""
