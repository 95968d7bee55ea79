"""`python -m sessiond` runs the same CLI as the `sessiond` console script."""

from sessiond.cli.main import main

if __name__ == "__main__":
    main()
