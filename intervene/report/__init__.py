"""After the call: the call record (formats.md section 6) and its score.

`score` judges how the rep handled the call from what intervene saw;
`record` turns the store's rows into the portable record and back.
"""
