from paraphina.cli import script

script()
