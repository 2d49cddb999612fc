"""``python -m posevid`` (also what ``torchrun -m posevid`` runs): the command line."""

from .cli import main

if __name__ == "__main__":
    main()
