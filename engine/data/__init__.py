"""Dataset readers and builders: Chinese-CLIP layout files in, `RetrievalSplit` records out.

Submodules are imported directly (``engine.data.cnclip``, ``engine.data.emoji_zh``) so that
importing this package stays cheap for the emoji builder's spawned worker processes.
"""
