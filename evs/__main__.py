from evs.main import main

main()
