"""docs/design.md, checked against the code: what can be generated is, and every pointer at it leads somewhere.

- the event table of §3 is rendered from `zellify_tiktok.events.EVENT_TABLE` (and the Stripe rules that
  send each event), TikTok's answer table of §7 from `zellify_tiktok.answers.TIKTOK_CODES`, the route
  table of §6 from template.yaml; each sits between `<!-- name:begin -->` and `<!-- name:end -->`;
- §6's routes are exactly the template's HttpApi routes and openapi.yaml's paths;
- every `docs/design.md §n` in the repository, and every `§n` inside the document, names a section of it;
- nothing in the self-contained part of the repository points at a document outside it.

After changing the event table, the answer table or the routes, rewrite the generated blocks with
`.venv/bin/python -m tests.unit.test_design_doc --write` (and read the diff).
"""

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml
from zellify_tiktok.answers import TIKTOK_CODES, Outcome
from zellify_tiktok.events import EVENT_TABLE
from zellify_tiktok.server_event import PAYMENT_SUCCEEDED
from zellify_tiktok.stripe_mapping import STRIPE_RULES

from local.template import Template

ROOT = Path(__file__).resolve().parents[2]
DESIGN = ROOT / "docs" / "design.md"
HTTP_METHODS = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH")
# The sections every reference may rely on: numbered as the contract the project was built from.
REQUIRED_SECTIONS = {str(n) for n in range(1, 13)} | {"6.1", "6.2", "6.3", "6.4"}

# Where nothing may point outside the repository: all of it (code comments, README.md and docs/ cite
# docs/design.md and its companion pages, never the contract the project was built from).
SELF_CONTAINED = (".",)
OUTSIDE = re.compile(r"\.\./shared|/work/shared|\bDESIGN\.md\b|\bDESIGN\s*§|\breference/(?:tiktok|stripe)\.md")

TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".js", ".mjs", ".html", ".css", ".toml", ".json", ".txt", ".cfg",
                 ".ini", ".sh"}
TEXT_NAMES = {"Makefile"}
# Not the project's text: environments, caches, installed packages, build and test output.
SKIPPED_DIRS = {"node_modules", "__pycache__", "artifacts"}

HEADING = re.compile(r"^#{2,4}\s+(\d+(?:\.\d+)*)\.?\s+(.+?)\s*$", re.MULTILINE)
REFERENCE = re.compile(r"docs/design\.md`?\s*((?:§\s*\d+(?:\.\d+)*\s*(?:(?:,|and|or)\s*)?)+)")
SECTION_NUMBER = re.compile(r"§\s*(\d+(?:\.\d+)*)")
ANCHOR_LINK = re.compile(r"design\.md#([A-Za-z0-9_-]+)")
ROUTE_ROW = re.compile(r"^\| `(" + "|".join(HTTP_METHODS) + r") (/\S*)` \| (\w+) \| (.+?) \|$", re.MULTILINE)

OUTCOME_TEXT = {
    Outcome.SENT: "sent",
    Outcome.PARTIAL: "partial success: some events refused",
    Outcome.TRANSIENT: "transient: queued, retried",
    Outcome.PERMANENT: "permanent: dead-lettered",
}


# -- the generated blocks ---------------------------------------------------------------------------------

def _value_text(name: str) -> str:
    spec = EVENT_TABLE[name]
    if spec.fixed_value is not None:
        return f"value {spec.fixed_value} (fixed), currency"
    if spec.has_value and name == PAYMENT_SUCCEEDED:
        return "value, currency, contents, content_type=product, num_items"
    if spec.has_value:
        return "value, currency, contents (when given)"
    return "no"


def events_table() -> str:
    """§3: one row per funnel event, in the table's order."""
    rows = ["| funnel event (`event`) | TikTok event | value | browser beacon | Stripe webhook |",
            "|---|---|---|---|---|"]
    for name, spec in EVENT_TABLE.items():
        stripe_types = list(dict.fromkeys(rule.stripe_type for rule in STRIPE_RULES if rule.funnel_event == name))
        stripe = ", ".join(f"`{t}`" for t in stripe_types) or "–"
        beacon = "yes" if spec.beacon else "pixel only (`server_only_event`)"
        rows.append(f"| `{name}` | {spec.tiktok} | {_value_text(name)} | {beacon} | {stripe} |")
    return "\n".join(rows)


def answers_table() -> str:
    """§7: TikTok's codes the system knows by name (every other 5xxxx is transient, anything else permanent)."""
    rows = ["| code | TikTok's name | outcome | a multi-event call is halved | marks the campaign's token |",
            "|---|---|---|---|---|"]
    for code in sorted(TIKTOK_CODES.values(), key=lambda c: c.code):
        rows.append(f"| {code.code} | {code.name} | {OUTCOME_TEXT[code.outcome]} | {'yes' if code.isolates else '–'} "
                    f"| {'yes' if code.token_problem else '–'} |")
    return "\n".join(rows)


def _authorizer_text(scopes: tuple[str, ...], authorizer: str | None) -> str:
    if authorizer is None:
        return "none (public)"
    return f"JWT ({', '.join(f'`{scope}`' for scope in scopes)})"


def routes_table() -> str:
    """§6: every route of the HTTP API, in the template's order."""
    rows = ["| route | function | authorizer |", "|---|---|---|"]
    for route in Template(ROOT / "template.yaml").http_routes():
        rows.append(f"| `{route.method} {route.path}` | {route.function} | "
                    f"{_authorizer_text(route.authorization_scopes, route.authorizer)} |")
    return "\n".join(rows)


GENERATED = {"events": events_table, "answers": answers_table, "routes": routes_table}


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def block(text: str, name: str) -> str:
    """What the document holds between a block's two markers, which must each be there once."""
    begin, end = _markers(name)
    assert text.count(begin) == 1 and text.count(end) == 1, f"docs/design.md needs one {begin} and one {end}"
    return text.split(begin, 1)[1].split(end, 1)[0].strip()


def rewrite_generated(text: str) -> str:
    for name, render in GENERATED.items():
        begin, end = _markers(name)
        before, rest = text.split(begin, 1)
        _, after = rest.split(end, 1)
        text = f"{before}{begin}\n{render()}\n{end}{after}"
    return text


def design_text() -> str:
    return DESIGN.read_text(encoding="utf-8")


def sections() -> dict[str, str]:
    """Section number → heading text."""
    return {number: title for number, title in HEADING.findall(design_text())}


# -- the repository's text -------------------------------------------------------------------------------

def _is_text(path: Path) -> bool:
    return path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES


def text_files(*tops: str) -> Iterator[Path]:
    """The project's own text files under each of `tops` (a folder or a file, relative to the root)."""
    for top in tops:
        start = ROOT / top
        if start.is_file():
            if _is_text(start):
                yield start
            continue
        for folder, subfolders, files in os.walk(start):
            # Pruned in place, so the walk never enters a virtualenv or node_modules.
            subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d not in SKIPPED_DIRS)
            yield from (Path(folder) / name for name in sorted(files) if _is_text(Path(name)))


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def _line(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


# -- the tests -------------------------------------------------------------------------------------------

def test_the_document_has_every_section_of_the_contract():
    missing = REQUIRED_SECTIONS - set(sections())
    assert not missing, f"docs/design.md lacks sections {sorted(missing, key=lambda n: [int(p) for p in n.split('.')])}"


def test_the_event_table_is_the_code_s():
    assert block(design_text(), "events") == events_table(), (
        "§3's table differs from zellify_tiktok.events.EVENT_TABLE: "
        "run `.venv/bin/python -m tests.unit.test_design_doc --write`")


def test_the_answer_table_is_the_code_s():
    assert block(design_text(), "answers") == answers_table(), (
        "§7's table differs from zellify_tiktok.answers.TIKTOK_CODES: "
        "run `.venv/bin/python -m tests.unit.test_design_doc --write`")


def test_the_routes_are_the_template_s_and_openapi_s():
    documented = {(method, path): (function, auth.strip())
                  for method, path, function, auth in ROUTE_ROW.findall(block(design_text(), "routes"))}
    template = {(r.method, r.path): (r.function, _authorizer_text(r.authorization_scopes, r.authorizer))
                for r in Template(ROOT / "template.yaml").http_routes()}
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    openapi = {(method.upper(), path) for path, item in spec["paths"].items() for method in item
               if method.upper() in HTTP_METHODS}
    assert set(documented) == set(template), (
        f"only in docs/design.md: {sorted(set(documented) - set(template))}; "
        f"only in template.yaml: {sorted(set(template) - set(documented))}")
    assert set(documented) == openapi, (
        f"only in docs/design.md: {sorted(set(documented) - openapi)}; "
        f"only in openapi.yaml: {sorted(openapi - set(documented))}")
    assert documented == template, "a route's function or authorizer in docs/design.md is not the template's"


def test_every_reference_to_the_document_names_one_of_its_sections():
    known = set(sections())
    broken = []
    for path in text_files("."):
        text = _read(path)
        for match in REFERENCE.finditer(text):
            for number in SECTION_NUMBER.findall(match.group(1)):
                if number not in known:
                    broken.append(f"{path.relative_to(ROOT)}:{_line(text, match.start())}: §{number}")
    design = design_text()
    for match in SECTION_NUMBER.finditer(design):
        if match.group(1) not in known:
            broken.append(f"docs/design.md:{_line(design, match.start())}: §{match.group(1)}")
    assert not broken, "references to sections docs/design.md does not have:\n" + "\n".join(broken)


def _anchor(title: str) -> str:
    """The anchor a Markdown renderer (GitHub's rule) gives a heading."""
    words = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return words.replace(" ", "-")


def test_links_into_the_document_name_its_headings():
    anchors = {_anchor(f"{number} {title}") for number, title in HEADING.findall(design_text())}
    anchors |= {_anchor(f"{number}. {title}") for number, title in HEADING.findall(design_text())}
    broken = []
    for path in text_files("."):
        text = _read(path)
        for match in ANCHOR_LINK.finditer(text):
            if match.group(1) not in anchors:
                broken.append(f"{path.relative_to(ROOT)}:{_line(text, match.start())}: #{match.group(1)}")
    assert not broken, "links to headings docs/design.md does not have:\n" + "\n".join(broken)


def test_nothing_points_outside_the_repository():
    this_file = Path(__file__).resolve()
    found = []
    for path in text_files(*SELF_CONTAINED):
        if path.resolve() == this_file:
            continue
        text = _read(path)
        for match in OUTSIDE.finditer(text):
            found.append(f"{path.relative_to(ROOT)}:{_line(text, match.start())}: {match.group(0)}")
    assert not found, "the repository must be readable on its own; these point outside it:\n" + "\n".join(found)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.unit.test_design_doc --write   (rewrites docs/design.md's generated tables)")
    DESIGN.write_text(rewrite_generated(design_text()), encoding="utf-8")
    print(f"rewrote {', '.join(GENERATED)} in {DESIGN.relative_to(ROOT)}")
