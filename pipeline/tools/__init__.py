"""External tools: the one subprocess runner and thin wrappers around each tool's CLI."""
