#!/usr/bin/env bash
# Diagrams: SVG and PNG come from graphviz-pure (a pip wheel, installed by `.[dev]`/`.[diagram]`).
# PDF needs Graphviz's own `dot`; on Debian/Ubuntu this installs it (root or sudo).
set -euo pipefail
if command -v dot >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq graphviz >/dev/null \
    && exit 0
fi
echo "note: Graphviz 'dot' not installed: PDF diagrams need it (apt-get install graphviz /" \
     "brew install graphviz); SVG, PNG, DOT and Mermaid work without it." >&2
