from qnrecovery.cli import main

main()
