"""``python -m crisiscast`` runs the command line, exactly like the ``crisiscast`` script."""

from crisiscast.cli import main

if __name__ == "__main__":
    main()
