"""The ``xmr-tui`` Textual dashboard (reads and writes the store; never trains itself)."""
