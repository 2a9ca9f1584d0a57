"""The docs name only what exists: every path, module, function, class, constant and dbt model
cited in backticks in docs/architecture.md and docs/performance.md (and the code paths README.md
cites) is in the tree.

A rename or a move that leaves architecture.md behind fails here, naming the stale citations.
Words in backticks that are not code names (columns, values, vars, commands) are not checked:
a citation is checked when its shape says what it is (see `classify`).
"""
from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "sources", "validations", "orchestration")
SKIPPED_DIRS = {".git", ".venv", "data", "target", "dbt_packages", "logs", "__pycache__", "node_modules",
                ".pytest_cache", "build", "dist"}
FILE_SUFFIXES = (".py", ".sql", ".yml", ".yaml", ".csv", ".md", ".toml", ".txt", ".json", ".cfg", ".ini")
WAREHOUSE_SCHEMAS = ("raw", "staging", "intermediate", "marts")
OUTPUT_SUFFIXES = (".parquet", ".duckdb", ".xlsx", ".html", ".png", ".log", ".json")


@cache
def tree_files() -> tuple[str, ...]:
    """Every file of the project, as a path relative to the root ('a/b.py')."""
    found = []
    stack = [ROOT]
    while stack:
        folder = stack.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                if entry.name not in SKIPPED_DIRS and not entry.name.endswith(".egg-info"):
                    stack.append(entry)
            else:
                found.append(entry.relative_to(ROOT).as_posix())
    return tuple(sorted(found))


@cache
def tree_dirs() -> frozenset[str]:
    dirs = set()
    for file in tree_files():
        parts = file.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return frozenset(dirs)


@cache
def python_definitions() -> frozenset[str]:
    """Names defined anywhere in our Python: functions, classes (and their methods), assignments."""
    names = set()
    for file in tree_files():
        if not file.endswith(".py") or file.startswith("tests/"):
            continue
        tree = ast.parse((ROOT / file).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            names.add(name.id)
    return frozenset(names)


@cache
def dbt_names() -> frozenset[str]:
    """dbt models, seeds and singular tests (file stems) and macros and generic tests (by name)."""
    names = set()
    for file in tree_files():
        if not file.startswith("dbt_project/") or not file.endswith(".sql"):
            continue
        names.add(Path(file).stem)
        text = (ROOT / file).read_text(encoding="utf-8")
        names.update(re.findall(r"{%-?\s*(?:macro|test)\s+(\w+)\s*\(", text))
    return frozenset(names)


@cache
def code_text() -> str:
    """The project's code and configuration (not its docs), for names that are used, not defined."""
    return "\n".join((ROOT / f).read_text(encoding="utf-8", errors="replace") for f in tree_files()
                     if f.endswith((".py", ".sql", ".yml", ".yaml", ".csv", ".toml", ".cfg"))
                     and not f.startswith("tests/") and not f.startswith("docs/"))


@cache
def top_level() -> frozenset[str]:
    return frozenset(f.split("/")[0] for f in tree_files())


@cache
def module_stems() -> frozenset[str]:
    return frozenset(Path(f).stem for f in tree_files()
                     if f.endswith(".py") and f.split("/")[0] in PACKAGES + ("scripts",))


def path_exists(cited: str) -> bool:
    """A path from the root, or the end of one ('macros/x.sql', 'listing.py', 'contracts/');
    `<placeholder>` matches any one path component."""
    cited = cited.strip().rstrip("/")
    if cited.startswith("./"):
        cited = cited[2:]
    pattern = "(^|/)" + "/".join("[^/]+".join(re.escape(piece) for piece in re.split(r"<[^>]*>", part))
                                 for part in cited.split("/")) + "$"
    matcher = re.compile(pattern)
    return any(matcher.search(f) for f in tree_files()) or any(matcher.search(d) for d in tree_dirs())


def module_file(dotted: list[str]) -> tuple[Path | None, list[str]]:
    """The longest prefix of `dotted` that is a module or package of ours, and what is left."""
    for cut in range(len(dotted), 0, -1):
        base = ROOT.joinpath(*dotted[:cut])
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate, dotted[cut:]
        if base.is_dir() and cut == len(dotted):
            return base, []
    return None, dotted


def module_defines(path: Path, name: str) -> bool:
    if path.is_dir():
        return (path / f"{name}.py").is_file() or (path / name).is_dir()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return True
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any((a.asname or a.name) == name for a in node.names):
            return True
    # a sibling module of a package's __init__
    return path.name == "__init__.py" and ((path.parent / f"{name}.py").is_file() or (path.parent / name).is_dir())


def classify(token: str, strict: bool = True) -> tuple[str, str] | None:
    """(kind, name) of a backticked citation worth checking, or None for words that are not code
    names: values ('YYYY-MM', 0-6), columns and vars (month_from), commands (`vardval run`)."""
    token = token.strip()
    if not token or " " in token.split("(")[0] or token.startswith(("$", "-", "'", '"')):
        return None
    call = re.fullmatch(r"([A-Za-z_][\w.]*)\(.*\)?", token)
    if call:
        token = call.group(1)
    if "/" in token or token.endswith(FILE_SUFFIXES):
        if (token.startswith(("data/", "http", "../", ".")) or any(c in token for c in "*{=")
                or token.endswith(OUTPUT_SUFFIXES)):
            return None     # outside the tree, a pattern, or what a run writes
        relative = token.split("/")[0] not in top_level() and not token.rstrip("/").endswith(FILE_SUFFIXES)
        if relative and (not strict or not token.endswith("/")):
            return None     # an asset key (`publication/month_gate`), or a folder a run writes
        return "path", token
    parts = token.split(".")
    if len(parts) >= 2 and parts[0] in PACKAGES and all(p.isidentifier() for p in parts):
        return "module", token
    if len(parts) == 2 and parts[0] in WAREHOUSE_SCHEMAS and parts[1].isidentifier():
        return "table", token
    if len(parts) == 2 and parts[0].isidentifier() and parts[1].isidentifier() and parts[0] in module_stems():
        return "attribute", token   # module.name with the module's short name: `tables.month_digests`
    if not token.isidentifier():
        return None
    if call:
        return "function", token
    if re.fullmatch(r"(?:stg|[a-z]+__int)_\w+", token) or "__" in token.strip("_"):
        return "dbt", token
    if re.fullmatch(r"[a-z_]+_(?:monthly|quarterly|yearly)", token):
        return "table", token     # a mart or a published period table
    if re.fullmatch(r"[A-Z][a-z]+(?:[A-Z][a-z0-9]*)+", token) or (strict and re.fullmatch(r"[A-Z][a-z]+", token)):
        return "class", token
    if re.fullmatch(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{6,}", token):
        return "constant", token
    return None


def cited(text: str) -> list[str]:
    """Backticked spans outside fenced blocks, and the functions a fenced python block declares."""
    spans = []
    for block, lang, body in re.findall(r"(```(\w*)\n(.*?)```)", text, re.S):
        if lang == "python":
            spans += [f"{name}()" for name in re.findall(r"^\s*(?:def\s+)?([a-z_]\w*)\(", body, re.M)]
        text = text.replace(block, "")
    return spans + re.findall(r"`([^`\n]+)`", text)


def missing(citations: list[str], strict: bool = True) -> list[str]:
    """The citations that name nothing in the tree. `strict`: a relative folder ending in '/'
    ('contracts/') is a folder of ours; otherwise only paths from the root and file names are."""
    wrong = []
    for token in citations:
        kind_name = classify(token, strict)
        if kind_name is None:
            continue
        kind, name = kind_name
        if kind == "path":
            ok = path_exists(name)
        elif kind == "module":
            path, rest = module_file(name.split("."))
            ok = path is not None and (not rest or module_defines(path, rest[0]))
        elif kind == "attribute":
            stem, attr = name.split(".")
            ok = any(module_defines(ROOT / f, attr) for f in tree_files()
                     if f.endswith(f"/{stem}.py") and f.split("/")[0] in PACKAGES + ("scripts",))
        elif kind == "table":
            table = name.split(".")[-1]
            ok = table in dbt_names() or re.search(rf"\b{table}\b", code_text()) is not None
        elif kind == "dbt":
            ok = name in dbt_names()
        elif kind == "function":
            ok = name in python_definitions() or name in dbt_names()
        else:   # class, constant: defined in Python, or (env vars, dbt vars) used in code
            ok = name in python_definitions() or re.search(rf"\b{name}\b", code_text()) is not None
        if not ok:
            wrong.append(f"{kind} `{token}`")
    return sorted(set(wrong))


def test_every_name_architecture_cites_exists():
    citations = cited((ROOT / "docs" / "architecture.md").read_text(encoding="utf-8"))
    checked = [c for c in citations if classify(c)]
    assert len(checked) > 50, "the page cites code: the extraction found too little"
    assert missing(citations) == []


def test_every_name_performance_cites_exists():
    assert missing(cited((ROOT / "docs" / "performance.md").read_text(encoding="utf-8"))) == []


def test_every_code_path_the_readme_cites_exists():
    citations = cited((ROOT / "README.md").read_text(encoding="utf-8"))
    assert missing(citations, strict=False) == []


@pytest.mark.parametrize("citation, exists", [
    ("orchestration/defs/transform/views.py", True),
    ("macros/registry_history.sql", True),
    ("orchestration/defs/<domain>/", True),
    ("orchestration/defs/nowhere.py", False),
    ("defs/nowhere/", False),
    ("core.vocabulary.COMPONENTS", True),
    ("core.vocabulary.NO_SUCH_LIST", False),
    ("stg_listing__snapshots", True),
    ("stg_listing__nothing", False),
    ("listing_monthly", True),
    ("listing_weekly_monthly", False),
    ("read_csv_lines_that_never_were()", False),
    ("IngestResult", True),
    ("tables.month_digests", True),
    ("tables.month_digest_of_nothing", False),
    ("NoSuchResult", False),
])
def test_the_check_tells_a_stale_citation_from_a_live_one(citation, exists):
    assert classify(citation) is not None
    assert (missing([citation]) == []) is exists
