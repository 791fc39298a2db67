"""The package version (one place; the package root, the CLI and every run's config.json read it)."""

__version__ = "0.2.0"
