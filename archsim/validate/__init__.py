"""``archsim validate``: published figures against archsim's predictions, each case a small record.

:mod:`archsim.validate.cases` holds the registry; :mod:`archsim.validate.run` runs the cases through
:mod:`archsim.api`; :mod:`archsim.validate.report` writes the page, the summary and ``validation.json``.
"""
from archsim.validate.cases import CASES, case_names
from archsim.validate.run import run_cases

__all__ = ["CASES", "case_names", "run_cases"]
