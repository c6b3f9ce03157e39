"""Buildtime services of OBS container builds, reimplemented strictly.

``runner.run_services`` runs the buildtime services of a ``_service`` file on an image
directory; each service module is also an executable with the OBS service contract
(``python -m pipeline.services.<name> --param value ... --outdir DIR``).

This package imports none of its modules, so ``python -m`` can run each of them cleanly.
"""
