"""``python -m float_data`` runs the ``float-data`` command line."""

from float_data.cli import app

if __name__ == "__main__":  # spawned worker processes import this module too
    app()
