#!/usr/bin/env bash
# Prints the interpreter `make install` builds .venv from: the operating system's own CPython
# (/usr/bin/python3) where it is 3.11 or newer and can make virtual environments, else the first
# `python3` on PATH. `make install PYTHON=...` chooses another.
#
# Why the system's: Debian builds /usr/bin/python3 with profile-guided optimisation and LTO and
# links libpython into the executable, where pyenv's default build (and `./configure` without
# `--enable-optimizations`) does neither. The same turn cost 5-10 % more CPU on pyenv's 3.11.7 than
# on Debian's 3.11.2, and the same pure-Python loop 21 % more instructions (bench/analysis.md,
# round 46).
set -u
for candidate in /usr/bin/python3 python3; do
  if "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' \
    >/dev/null 2>&1; then
    command -v "$candidate"
    exit 0
  fi
done
echo python3
