"""``python -m float_train`` (what ``accelerate launch -m float_train ...`` runs)."""

from float_train.cli import main

main()
