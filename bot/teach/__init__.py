"""The content staff's loop: inbox, labelling, training, evaluation, deployment."""
