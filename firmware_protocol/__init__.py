"""Wire format, message types and emulator of the flash controller link (not built yet)."""
