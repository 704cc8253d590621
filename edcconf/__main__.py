try:  # Ctrl-C while the first modules load: the same short line and exit code as at any other moment
    from .cli import main
except KeyboardInterrupt:
    import sys

    sys.stderr.write("Interrupted.\n")
    raise SystemExit(130) from None

main()
