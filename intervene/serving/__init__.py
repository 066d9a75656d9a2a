"""The models served to many workers (issue 16): Whisper and the sentence
encoder as Ray Serve deployments with dynamic batching, and clients with the
in-process classes' methods. Above listen and nlp (it serves their models)
and config (it reads [models]); below app, which picks in-process or served.
Ray is imported only where a deployment or a handle is made: a worker on the
in-process default never loads it."""
