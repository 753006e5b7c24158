"""Write (or with --check, verify) the Inputs and Outputs tables of each module's README.md from
its variables.tf and outputs.tf, between the `<!-- BEGIN_TF_DOCS -->` and `<!-- END_TF_DOCS -->`
markers, so the READMEs cannot drift from the code. Usage: module_docs.py [--check] MODULE_DIR..."""

import re
import sys
from pathlib import Path

BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"


def blocks(text: str, kind: str):
    """(name, body) of each top-level `kind "name" {…}` block, by brace matching."""
    for m in re.finditer(rf'^{kind} "([^"]+)" {{', text, re.M):
        depth, i = 1, m.end()
        while depth:
            c = text[i]
            if c == '"':
                i += 1
                while text[i] != '"':
                    i += 2 if text[i] == "\\" else 1
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            i += 1
        yield m.group(1), text[m.end(): i - 1]


def attribute(body: str, name: str) -> str | None:
    """A top-level attribute's expression, multi-line values included (until the next attribute
    or block at the same indentation)."""
    m = re.search(rf"^  {name}\s*=\s*(.*?)(?=^  \w[\w ]*(=|{{)|\Z)", body, re.M | re.S)
    return m.group(1).strip() if m else None


def cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def tables(module: Path) -> str:
    rows = ["## Inputs", "", "| Name | Description | Type | Default | Required |", "| --- | --- | --- | --- | --- |"]
    for name, body in blocks((module / "variables.tf").read_text(), "variable"):
        body = re.sub(r"^  validation {.*?^  }\n", "", body, flags=re.M | re.S)
        description = attribute(body, "description") or '""'
        default = attribute(body, "default")
        rows.append(
            f"| `{name}` | {cell(description.strip(chr(34)))} | `{cell(attribute(body, 'type') or 'any')}` "
            f"| {'`' + cell(default) + '`' if default is not None else 'n/a'} | {'no' if default is not None else 'yes'} |"
        )
    rows += ["", "## Outputs", "", "| Name | Description |", "| --- | --- |"]
    for name, body in blocks((module / "outputs.tf").read_text(), "output"):
        rows.append(f"| `{name}` | {cell((attribute(body, 'description') or '').strip(chr(34)))} |")
    return "\n".join(rows)


def main() -> int:
    check = "--check" in sys.argv
    stale = []
    for arg in (a for a in sys.argv[1:] if a != "--check"):
        module = Path(arg)
        readme = module / "README.md"
        text = readme.read_text()
        if BEGIN not in text or END not in text:
            stale.append(f"{readme} has no {BEGIN} … {END} markers")
            continue
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        wanted = f"{head}{BEGIN}\n{tables(module)}\n{END}{tail}"
        if wanted != text:
            if check:
                stale.append(f"{readme} is out of date")
            else:
                readme.write_text(wanted)
    for s in stale:
        print(f"error: {s}: run python3 infra/scripts/module_docs.py infra/modules/*/", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
