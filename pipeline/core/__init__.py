"""Infrastructure every stage shares: the context, errors, the typed plan and report, state
files and locks, the console."""
