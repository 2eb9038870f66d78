#!/usr/bin/env bash
# Installs the system packages the test suite needs on a Debian bookworm machine:
# libtorch (libtorch-dev, g++) with OpenBLAS (libopenblas0-openmp: without it libblas.so.3 is the
# slow netlib reference) for the native `torch` backend, Mesa's lavapipe Vulkan driver from
# bookworm-backports (a software WebGPU adapter for Dawn in Node) and Chromium (headless browser
# tests, WebGPU via SwiftShader). Idempotent.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
torch_need=0
for p in libtorch-dev libgloo-dev libopenblas0-openmp g++; do dpkg -s "$p" >/dev/null 2>&1 || torch_need=1; done
if [ "$torch_need" = 1 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq libtorch-dev libgloo-dev libopenblas0-openmp g++ >/dev/null
  echo "installed: libtorch-dev $(dpkg-query -W -f='${Version}' libtorch-dev), libopenblas0-openmp"
else
  echo "libtorch-dev $(dpkg-query -W -f='${Version}' libtorch-dev) and OpenBLAS already present"
fi
need=0
dpkg -s chromium >/dev/null 2>&1 || need=1
ver=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
case "$ver" in *bpo*) ;; *) need=1 ;; esac
[ "$need" = 1 ] || { echo "system packages already present (mesa $ver)"; exit 0; }
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
$SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
echo "installed: mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers), chromium $(dpkg-query -W -f='${Version}' chromium)"
