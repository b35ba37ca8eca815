"""``archsim validate``: published figures predicted by the ordinary API, compared, and reported.

:mod:`archsim.validate.cases` holds the registry (declarative records), :mod:`archsim.validate.runner`
runs them through :mod:`archsim.api`, :mod:`archsim.validate.writers` writes the table, the page and
``validation.json``.
"""
from archsim.validate.cases import CASES, Case
from archsim.validate.runner import run_cases

__all__ = ["CASES", "Case", "run_cases"]
