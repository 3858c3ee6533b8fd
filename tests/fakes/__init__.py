"""Test doubles that speak real protocols over loopback.

This file exists so that pytest imports ``tests/fakes/test_*.py`` as part of a
package and never puts ``tests/fakes`` itself on ``sys.path``: otherwise
``tests/fakes/sp_api.py`` would shadow the real ``sp_api`` library.
"""
