#!/usr/bin/env bash
# Builds .device/: a self-contained copy of the repae CLI (one esbuild bundle), a Node binary, Dawn
# (the webgpu package's dawn.node), the Vulkan loader and the golden fixtures, for running the golden
# suite and training timings on a GPU machine that has no Node.js and no network (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
out=.device
rm -rf "$out" && mkdir -p "$out/app/node_modules/webgpu/dist/linux-x64" "$out/lib"
npx esbuild scripts/device-entry.ts --bundle --platform=node --format=esm --target=node20 \
  --external:webgpu --external:esbuild --external:@tensorflow/tfjs-node-gpu --external:@tensorflow/tfjs-backend-wasm \
  --banner:js="import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);" \
  --outfile="$out/app/repae.mjs" --log-level=warning
cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$out/app/node_modules/webgpu/"
xz -T2 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$out/dawn.node.xz"
xz -T2 -6 -c "$(readlink -f "$(command -v node)")" > "$out/node.xz"
cp -L /usr/lib/x86_64-linux-gnu/libvulkan.so.1 "$out/lib/"
if [ -d ../shared/golden ]; then tar cf - -C ../shared golden | xz -T2 -3 > "$out/golden.tar.xz"; fi
cat > "$out/setup.sh" <<'EOS'
# source me on the device: unpacks node, dawn and the fixtures next to this script
d=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -x "$d/node" ] || { xz -dc "$d/node.xz" > "$d/node"; chmod +x "$d/node"; }
[ -f "$d/app/node_modules/webgpu/dist/linux-x64/dawn.node" ] || xz -dc "$d/dawn.node.xz" > "$d/app/node_modules/webgpu/dist/linux-x64/dawn.node"
[ -d "$d/golden" ] || { [ -f "$d/golden.tar.xz" ] && tar xJf "$d/golden.tar.xz" -C "$d"; }
export LD_LIBRARY_PATH="$d/lib:${LD_LIBRARY_PATH:-}" XDG_RUNTIME_DIR=/tmp
repae() { "$d/node" "$d/app/repae.mjs" "$@"; }
EOS
du -sh "$out"
