"""The teaching side that runs in the bot's environment (Rasa, numpy, sklearn).

The worker process (``python -m teaching worker``) and what it runs: data files,
grouping, training and evaluation; and the Rasa event broker that feeds its inbox.
It imports the teaching contract (``teaching``); the bridge never imports this.
"""
