"""uvguard: run as `uv`, and keep cache pruning from breaking environments that link into the cache."""

__version__ = "0.1.0"
