"""``python -m evalkit``: the ``evalkit`` command, through the same light entry point as the console script."""

from evalkit._entry import main

main()
