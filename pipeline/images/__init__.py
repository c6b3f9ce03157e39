"""Container images: references, the manifests that name them, and the registries that hold
them."""
