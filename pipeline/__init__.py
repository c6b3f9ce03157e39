"""Build KubeVirt and CDI the way a distribution ships them: RPMs, images, one verified release."""

__version__ = "0.1.0"
