"""OBS file formats: project config (prjconf), Dockerfile magic comments, _service files.

Each parser turns a file into frozen dataclasses and reports any line it does not understand as
an :class:`~pipeline.core.errors.InputError` naming the file and line, instead of guessing.
"""
