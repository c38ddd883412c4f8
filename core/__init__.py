"""Tailor headless engine."""
