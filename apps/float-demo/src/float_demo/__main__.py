"""``python -m float_demo`` = ``float-demo``."""

from float_demo.cli import main

main()
