"""The content staff's loop: inbox, labelling, training, evaluation, deployment.

This package is the teaching contract the bridge imports (the Redis store, the
commands and their checks, the errors); ``teaching.worker`` is the part that runs
in the bot's environment (the Rasa event broker, embeddings, grouping, training,
evaluation) and imports the contract, never the reverse.
"""
