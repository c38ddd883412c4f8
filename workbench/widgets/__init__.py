"""Reusable widgets with no catalog logic: the virtualised thumbnail grid, the live plots and plain-text helpers."""
