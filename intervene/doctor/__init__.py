"""`intervene doctor`: checks an installation (Asterisk, database, KB,
models) the way the service would use it. verdict.py decides from what was
seen (pure), asterisk.py and local.py look, run.py puts them in order."""
