"""Tests for the in-container sandbox runtime (run the real bootstrap in a subprocess)."""
