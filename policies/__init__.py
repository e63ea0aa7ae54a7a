"""Shipped policy presets (TOML); see `uvguard.policy`."""
