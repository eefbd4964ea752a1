from paraphina.cli import main

main()
