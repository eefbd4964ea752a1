"""``paraphina verify`` and ``paraphina cat``: integrity and contents of a log."""
