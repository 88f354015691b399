#!/usr/bin/python3
"""Runs a libFuzzer target for a fixed time from a seed corpus of hex files: the CI smoke.

  run_smoke.py <fuzzer> <seconds> <hex seed dir>...

A longer hunt by hand: the same with more seconds, or run the fuzzer directly on a corpus
folder. A crash leaves its input as crash-* in the working directory.
"""
import pathlib
import subprocess
import sys
import tempfile


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    fuzzer, seconds, seed_dirs = sys.argv[1], sys.argv[2], sys.argv[3:]
    with tempfile.TemporaryDirectory() as corpus:
        n = 0
        for d in seed_dirs:
            for f in sorted(pathlib.Path(d).glob("*.hex")):
                data = bytes.fromhex(f.read_text().strip())
                pathlib.Path(corpus, f.stem).write_bytes(data)
                n += 1
        if n == 0:
            sys.exit(f"no seeds found in {seed_dirs}")
        cmd = [fuzzer, corpus, f"-max_total_time={seconds}", "-max_len=65536", "-timeout=10",
               "-rss_limit_mb=2048", "-print_final_stats=1"]
        print("+", " ".join(cmd), flush=True)
        sys.exit(subprocess.run(cmd, check=False).returncode)


if __name__ == "__main__":
    main()
