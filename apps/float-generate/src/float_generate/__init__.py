"""float-generate: the ``float-generate`` and ``float-convert-official`` commands (typer) over float-pipeline.

The library (bundle format, :class:`float_pipeline.Pipeline`, portrait crop, mp4 writer, checkpoint
conversion) lives in the ``float-pipeline`` package; this app parses, validates, runs and reports. Batch mode
(a jobs file of many generations, models loaded once) is :func:`run_batch`.
"""

from float_generate.batch import BatchFileError, BatchReport, JobOutcome, check_batch, read_jobs, run_batch

__all__ = ["BatchFileError", "BatchReport", "JobOutcome", "check_batch", "read_jobs", "run_batch"]
