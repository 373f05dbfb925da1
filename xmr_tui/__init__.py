"""xmr's user side: the ``xmr`` CLI, the ``xmr-tui`` dashboard, the experiment store and the worker."""
