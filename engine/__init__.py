"""xmr's training engine: dual-encoder models, losses, training, evaluation and retrieval.

Import ``engine.train.run`` to train and evaluate one ``ExperimentConfig``; it reports through
a ``RunSink`` and never touches the store, the CLI or the TUI.
"""
