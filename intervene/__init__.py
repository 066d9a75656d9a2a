"""intervene: an Asterisk add-on that steps into live sales calls when it can change the outcome."""
__version__ = "0.1.0"
