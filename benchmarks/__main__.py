"""``python -m benchmarks``: run the whole suite (see ``run.py``)."""

from benchmarks.run import main

main()
