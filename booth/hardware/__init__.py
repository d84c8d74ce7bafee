"""Hardware adapters: the flash controller link and (next) the camera."""
