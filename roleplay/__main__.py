from roleplay.cli.main import main

main()
