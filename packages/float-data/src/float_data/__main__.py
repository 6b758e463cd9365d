"""``python -m float_data`` runs the ``float-data`` command line."""

from float_data.cli import app

app()
