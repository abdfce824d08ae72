"""Keep secrets out of every output: one registry of the keys this process uses, one `scrub()`.

Keys arrive from several places (the env var a scenario names, providers.yaml, the userinfo of
a `--scenario http://user:KEY@host` URL, Pushgateway credentials), and a server may echo them
back in any answer (an error body that repeats the Authorization header). Every path that
writes something a person or a dashboard reads — run-directory files, metric labels, pytest's
terminal and JUnit reports, error messages — passes its text through `scrub()`, which knows
every key registered so far. The registry is process-wide on purpose: a key must be blanked
out of output produced far from where it was read (a pytest report, an xdist worker).
"""

from __future__ import annotations

from pathlib import Path

MASK = "***"
# Shorter values would blank out ordinary words; "EMPTY" is the OpenAI clients' "no key".
MIN_SECRET_LENGTH = 4
NOT_SECRETS = frozenset({"EMPTY", "none", "None"})

_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember `value` so that `scrub()` blanks it out of everything written from now on."""
    if value and len(value) >= MIN_SECRET_LENGTH and value not in NOT_SECRETS:
        _secrets.add(value)


def scrub(text: str) -> str:
    """`text` with every registered secret replaced by `***` (longest first)."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def contains_secret(text: str) -> bool:
    """Whether `text` still holds a registered secret."""
    return any(secret in text for secret in _secrets)


def scrub_tree(directory: Path) -> list[Path]:
    """Rewrite every file under `directory` that holds a registered secret; return those files.

    The last line of defence before metrics are built and pushed: whatever a writer missed
    (a server's echo in a file nobody expected it in) is blanked out on disk too.
    """
    if not _secrets or not directory.is_dir():
        return []
    needles = [secret.encode("utf-8") for secret in _secrets]
    fixed: list[Path] = []
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if not any(needle in data for needle in needles):
            continue
        for needle in sorted(needles, key=len, reverse=True):
            data = data.replace(needle, MASK.encode("ascii"))
        path.write_bytes(data)
        fixed.append(path)
    return fixed
