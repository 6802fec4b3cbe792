"""`python -m yolodistill`, as the console script."""

from .cli import main

main()
