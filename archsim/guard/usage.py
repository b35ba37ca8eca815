"""Command-line usage errors as one line, like every other user error.

argparse prints a usage block and then ``prog: error: message``, and words its messages its own way
("invalid choice: 'x' (choose from ...)", "unrecognized arguments: ..."). :class:`OneLineParser`
prints one ``archsim: error:`` line instead, naming the verb, the option and what it allows, and
exits with code 2; an unknown option is named with the nearest known ones. Subparsers made from it
(``add_subparsers``) are of the same class.
"""
from __future__ import annotations

import argparse
import difflib
import re
import sys

from archsim.guard.text import one_line, quote

#: argparse's messages, reworded: (pattern, replacement). ``{help}`` is where the verb's --help is named.
_REWORDS = (
    (r"argument (?P<opt>\S+): invalid choice: (?P<value>'.*') \(choose from (?P<choices>.*)\)$",
     lambda m: f"{m['opt']}: {_value(m['value'])} is not allowed (allowed: {m['choices'].replace(chr(39), '')})"),
    (r"argument (?P<opt>\S+): invalid int value: (?P<value>'.*')$",
     lambda m: f"{m['opt']}: {_value(m['value'])} is not allowed (allowed: an integer)"),
    (r"argument (?P<opt>\S+): invalid float value: (?P<value>'.*')$",
     lambda m: f"{m['opt']}: {_value(m['value'])} is not allowed (allowed: a number)"),
    (r"argument (?P<opt>\S+): expected (?P<count>one|at least one) argument$",
     lambda m: f"{m['opt']}: no value given (allowed: {m['opt']} followed by {m['count'].replace('one', 'one value')})"),
    (r"the following arguments are required: (?P<names>.*)$",
     lambda m: f"missing {m['names']} (required; {{help}})"),
    (r"unknown (option|argument) .*$", lambda m: m[0]),          # worded by OneLineParser.parse_args
    (r"argument (?P<opt>\S+): (?P<message>.*\(allowed: .*\))$",  # an option type's own message (seed)
     lambda m: f"{m['opt']}: {m['message']}"),
)

#: Largest seed (seeds feed NumPy's and Python's generators; 2**32 - 1 is the largest every one of them
#: takes, and more seeds than that give nothing new). Assumption.
SEED_MAX = 2**32 - 1


def seed(text: str) -> int:
    """An argparse ``type=``: a seed, an integer from 0 to :data:`SEED_MAX`."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"{quote(text)} is not allowed (allowed: an integer from 0 to {SEED_MAX})")
    return value


def _value(text: str) -> str:
    """An offending value from argparse's quoted form, quoted again at most :data:`QUOTE_CHARS` long."""
    return quote(text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "'" else text)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one ``archsim: error:`` line on stderr and exit code 2."""

    def error(self, message: str):
        verb = self.prog.split(" ", 1)[1] if " " in self.prog else None
        help_hint = f"see 'archsim {verb} --help'" if verb else "see 'archsim --help'"
        for pattern, reword in _REWORDS:
            match = re.match(pattern, message)
            if match:
                message = reword(match).replace("{help}", help_hint)
                break
        else:
            message = f"{message} ({help_hint})"
        print(one_line(f"archsim: error: {verb + ': ' if verb else ''}{message}"), file=sys.stderr)
        raise SystemExit(2)

    def parse_args(self, args=None, namespace=None):
        """As argparse's, but an unknown argument is blamed on the verb it was given to."""
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = self._verb_parser(namespace) or self
            options = [s for action in parser._actions for s in action.option_strings]
            unknown = extras[0]
            near = difflib.get_close_matches(unknown.split("=", 1)[0], options, n=2)
            allowed = f"did you mean {' or '.join(near)}?" if near else \
                f"see 'archsim {parser.prog.split(' ', 1)[-1]} --help' for the options"
            what = "option" if unknown.startswith("-") else "argument"
            more = f" (and {len(extras) - 1} more)" if len(extras) > 1 else ""
            parser.error(f"unknown {what} {quote(unknown)}{more} ({allowed})")
        return namespace

    def _verb_parser(self, namespace) -> argparse.ArgumentParser | None:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                verb = getattr(namespace, action.dest, None)
                return action.choices.get(verb) if verb else None
        return None
