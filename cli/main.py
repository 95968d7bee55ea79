import click

from sessiond import __version__


@click.group()
@click.version_option(__version__, prog_name="sessiond")
def main() -> None:
    """sessiond."""
