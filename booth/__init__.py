"""The booth application: hardware adapters, capture, session store, CLI and TUI."""
