"""Widgets per panel: hardware status, log, shot progress, thumbnails."""
