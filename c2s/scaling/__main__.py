"""python -m c2s.scaling: an alias of the entry point c2s.cli.scaling (the one import .importlinter allows
upwards)."""

from c2s.cli.scaling import main

if __name__ == "__main__":
    main()
