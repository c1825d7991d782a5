"""`python -m bot ...` runs the same command as `stretchbot ...`."""

from bot.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
