"""Imports every command module so each registers on the shared app."""
