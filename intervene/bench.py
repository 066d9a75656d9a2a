"""placeholder"""
import click
@click.group()
def bench():
    """Benchmarks."""
