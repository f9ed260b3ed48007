from agentracer.__main__ import main

main()
