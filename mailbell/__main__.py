from mailbell.cli import main

main()
