"""The store layer: what ``load`` builds once and every query reads.

:mod:`usagekit.store.cube` is the one place the month cube is built, for every engine.
"""
