"""Help texts as plain text: module docstrings written in reStructuredText lose their markup."""

from __future__ import annotations

import argparse
import re

_ROLE = re.compile(r":(?:func|mod|class|meth|attr|data|obj|exc):`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")
_DIRECTIVE = re.compile(r"^\s*\.\. [\w-]+::.*$", re.MULTILINE)


def plain(text: str | None) -> str | None:
    """``text`` without reStructuredText markup: ``:func:`x``` -> x, ````x```` -> x, ``.. directive::`` lines dropped."""
    if not text:
        return text
    text = _ROLE.sub(r"\1", text)
    text = _LITERAL.sub(r"\1", text)
    text = _DIRECTIVE.sub("", text)
    return text.replace("`", "'")


def plain_parser(parser: argparse.ArgumentParser) -> None:
    """Make a parser's description, epilog and every argument's help plain text, sub-parsers included."""
    parser.description = plain(parser.description)
    parser.epilog = plain(parser.epilog)
    for action in parser._actions:
        if action.help not in (None, argparse.SUPPRESS):
            action.help = plain(action.help)
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                choice.help = plain(choice.help)
            for sub in set(action.choices.values()):
                plain_parser(sub)
