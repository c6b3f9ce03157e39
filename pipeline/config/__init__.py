"""pipeline.yaml: the declarative project, read with positions for every error."""
