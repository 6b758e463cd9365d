"""User-facing errors of the pipeline: each message names the input at fault and what to do about it.

The apps print these without a traceback (``float-generate`` exits with code 2). Errors the packages raise
for bad user input (:class:`float_audio.AudioError`, :class:`float_pipeline.BundleError`) are treated the same
way.
"""

from __future__ import annotations


class GenerateError(RuntimeError):
    """Base class: a problem with the user's input, settings or output location (not a bug)."""


class ImageError(GenerateError):
    """The portrait cannot be read or is not an image."""


class NoFaceError(GenerateError):
    """The face detector found no face in the portrait."""


class OutputError(GenerateError):
    """The output file cannot be written (folder missing or not writable, wrong extension)."""


class OptionError(GenerateError):
    """An option does not fit the bundle or the other options (e.g. ``--pose-from`` on a pose-free model)."""


class BundleError(RuntimeError):
    """A bundle folder is missing, incomplete or inconsistent; the message names the file and the fix."""
