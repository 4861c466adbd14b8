#!/usr/bin/env bash
# Installs Debian's PyTorch (python3-torch, CPU, 1.13 on bookworm) for the torch training engine
# (engines/torch, docs/torch.md): CI uses it to run the cross-engine tests on every push. It lands
# under /usr/bin/python3, which the engine finds even when another python3 comes first on PATH.
# Idempotent: exits at once when /usr/bin/python3 imports torch. Needs root (or sudo) for apt.
set -euo pipefail

if /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "setup-torch: $(/usr/bin/python3 -c 'import torch; print("torch", torch.__version__)') already importable by /usr/bin/python3"
  exit 0
fi
command -v apt-get >/dev/null || { echo "setup-torch: needs apt-get (Debian); otherwise pip install -r engines/torch/requirements.txt" >&2; exit 1; }
sudo=""
if (( EUID != 0 )); then
  command -v sudo >/dev/null || { echo "setup-torch: needs root or sudo for apt-get" >&2; exit 1; }
  sudo=sudo
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-torch
/usr/bin/python3 -c "import torch; print('setup-torch: torch', torch.__version__)"
