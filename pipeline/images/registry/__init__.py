"""The OCI distribution API client (see ``client``)."""

from pipeline.images.registry.client import (
    ACCEPT,
    Failed,
    ImageDetails,
    NotFound,
    RegistryClient,
    RetryPolicy,
)

__all__ = ["ACCEPT", "Failed", "ImageDetails", "NotFound", "RegistryClient", "RetryPolicy"]
