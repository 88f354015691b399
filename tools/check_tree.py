#!/usr/bin/env python3
"""Tree rules that a reviewer would otherwise have to remember, run as a ctest (label lint).

- Layering: a file in src/<module> may include only its own module and the modules listed
  for it in LAYERS (docs/ARCHITECTURE.md has the same table, with reasons).
- Pure cores (src/**/core/) use no clocks, threads, sleeps, randomness or asio.
- Every C++ file is formatted with the checked-in .clang-format.
- No source file grows past MAX_LINES.
"""
import pathlib
import re
import subprocess
import sys

# module -> modules it may include (its own module is always allowed).
LAYERS = {
    "base": set(),
    "model": {"base"},
    "storage": {"base", "model"},
    "raft/core": {"base", "model"},
    "raft": {"raft/core", "base", "model", "storage", "rpc", "net"},
    "net": {"base"},
    "rpc": {"net", "base", "model"},
    "cluster/core": {"base", "model"},
    "cluster": {"cluster/core", "raft", "raft/core", "rpc", "storage", "model", "base", "net"},
    "kafka/protocol": {"base", "model"},
    "kafka/groups/core": {"base", "model", "kafka/protocol"},
    "kafka/txn/core": {"base", "model", "kafka/protocol"},
    "kafka/groups": {"kafka/groups/core", "kafka/protocol", "cluster", "cluster/core", "net",
                     "base", "model"},
    "kafka/txn": {"kafka/txn/core", "kafka/protocol", "cluster", "base", "model"},
    "kafka/server": {"kafka/protocol", "kafka/groups", "kafka/groups/core", "kafka/txn",
                     "cluster", "cluster/core", "net", "base", "model", "storage", "security"},
    "security": {"base"},
    "admin": {"cluster", "cluster/core", "kafka/groups", "security", "net", "base", "model"},
    # Talks to brokers through librdkafka, as any Kafka client would, and through the
    # protocol's codecs for the few APIs librdkafka lacks (DescribeLogDirs).
    "cli": {"base", "kafka/protocol"},
    "app": None,  # wires everything together
}
BANNED_IN_CORE = [
    (re.compile(r"\b(steady_clock|system_clock|high_resolution_clock)\b"), "reads a clock"),
    (re.compile(r"\bstd::thread\b|\bstd::jthread\b"), "starts a thread"),
    (re.compile(r"\bsleep_for\b|\bsleep_until\b"), "sleeps"),
    (re.compile(r"\bstd::rand\b|\bstd::random_device\b|\brand\(\)"), "draws unseeded randomness"),
    (re.compile(r"#include <asio"), "does I/O through asio"),
]
MAX_LINES = 800
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)
CPP_SUFFIXES = {".h", ".cc"}


def module_of(rel_path):
    """The longest LAYERS key that prefixes a path under src/."""
    parts = rel_path.parts
    for n in range(len(parts) - 1, 0, -1):
        key = "/".join(parts[:n])
        if key in LAYERS:
            return key
    return None


def check_layers(src, errors):
    for path in sorted(src.rglob("*")):
        if path.suffix not in CPP_SUFFIXES:
            continue
        rel = path.relative_to(src)
        module = module_of(rel)
        if module is None:
            errors.append(f"src/{rel}: not inside a module listed in tools/check_tree.py")
            continue
        text = path.read_text()
        allowed = LAYERS[module]
        for included in INCLUDE.findall(text):
            target = module_of(pathlib.PurePath(included))
            if target is None or allowed is None or target == module:
                continue
            if target not in allowed:
                errors.append(f"src/{rel}: module {module} may not include {included} ({target})")
        if "/core/" in f"/{rel.parent}/":
            for pattern, what in BANNED_IN_CORE:
                if pattern.search(text):
                    errors.append(f"src/{rel}: a pure core {what}")


def check_format_and_length(root, errors):
    files = [p for d in ("src", "tests", "bench", "tools") if (root / d).exists()
             for p in sorted((root / d).rglob("*")) if p.suffix in CPP_SUFFIXES]
    for path in files:
        lines = path.read_text().count("\n")
        if lines > MAX_LINES:
            errors.append(f"{path.relative_to(root)}: {lines} lines, more than {MAX_LINES}")
    if files:
        proc = subprocess.run(["clang-format", "--dry-run", "--Werror", *map(str, files)],
                              capture_output=True, text=True, cwd=root)
        if proc.returncode != 0:
            bad = sorted({line.split(":")[0] for line in proc.stderr.splitlines()
                          if ": error:" in line})
            errors.append("not clang-formatted (run tools/format): " + ", ".join(bad))


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    errors = []
    check_layers(root / "src", errors)
    check_format_and_length(root, errors)
    for e in errors:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
