from facelens.cli import main

main()
