#!/usr/bin/env bash
# Installs Mesa's lavapipe (a Vulkan driver on the CPU) so that the `webgpu` package (Dawn) finds
# an adapter on machines without a GPU: CI uses it to run the TensorFlow.js WebGPU backend on every
# push. Debian only; Mesa 25 comes from <codename>-backports. Idempotent: exits at once when a
# lavapipe of Mesa >= 25 is installed. Needs root (or sudo) for apt.
set -euo pipefail

min_major=25
installed=$(dpkg-query -W -f='${Status} ${Version}' mesa-vulkan-drivers 2>/dev/null || true)
if [[ $installed == "install ok installed "* ]]; then
  version=${installed#install ok installed }
  major=${version%%.*}
  major=${major#*:} # drop an epoch
  if (( major >= min_major )); then
    echo "setup-webgpu: mesa-vulkan-drivers $version already installed"
    exit 0
  fi
fi

. /etc/os-release
if [[ ${ID:-} != debian || -z ${VERSION_CODENAME:-} ]]; then
  echo "setup-webgpu: only Debian is supported here (found ${PRETTY_NAME:-unknown}); install Mesa >= $min_major's lavapipe by hand" >&2
  exit 1
fi

sudo=""
if (( EUID != 0 )); then
  command -v sudo >/dev/null || { echo "setup-webgpu: needs root or sudo for apt-get" >&2; exit 1; }
  sudo=sudo
fi

suite="$VERSION_CODENAME-backports"
if ! grep -rqs -- "$suite" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deb http://deb.debian.org/debian $suite main" | $sudo tee "/etc/apt/sources.list.d/$suite.list" >/dev/null
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends -t "$suite" mesa-vulkan-drivers
echo "setup-webgpu: installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
