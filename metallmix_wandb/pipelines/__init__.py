"""One function per CLI command, wiring core and adapters together."""
