from watertight.cli import main

main()
