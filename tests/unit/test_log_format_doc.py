"""docs/log-format.md lists every event kind code, with its tag and export table."""

from __future__ import annotations

import re
from pathlib import Path

from paraphina import events as ev
from paraphina.export import FAMILY_BY_CODE

DOC = Path(__file__).resolve().parents[2] / "docs" / "log-format.md"


def test_the_kind_table_lists_every_code():
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \| (columns|payload) \| (\w+) \|", DOC.read_text(), re.M)
    documented = {int(code): (tag, family) for code, tag, _, family in rows}
    assert documented == {code: (ev.TAG_BY_CODE[code], FAMILY_BY_CODE[code]) for code in ev.TYPE_BY_CODE}
