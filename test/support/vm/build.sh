#!/usr/bin/env bash
# Builds (once, cached) what the IPVS tests boot: Debian's packaged kernel, unpacked and not installed, and an
# initramfs with busybox, iproute2, ipvsadm, ipset, iptables (nft), conntrack, Node 24 and the kernel modules for
# IPVS, netfilter, dummy/veth links and a 9p share of the repository. The machines' own kernel has no IPVS.
# Usage: build.sh CACHE_DIR NODE_BINARY   (run as root; prints the paths of vmlinux and the initrd)
set -euo pipefail
CACHE=$1
NODE_BIN=$2
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"; flock 9   # two test files may build at once

need=()
for c in qemu-system-x86_64:qemu-system-x86 busybox:busybox-static depmod:kmod ipvsadm:ipvsadm ipset:ipset \
         xtables-nft-multi:iptables sysctl:procps ip:iproute2 conntrack:conntrack python3:python3; do
  command -v "${c%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${c%%:*}" ] || need+=("${c##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 1. The kernel: the version linux-image-amd64 points at, unpacked into the cache.
if [ ! -f "$CACHE/kernel.done" ]; then
  KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
  if [ -z "$KPKG" ]; then apt-get update -qq; KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}'); fi
  rm -rf "$CACHE/kroot" "$CACHE"/*.deb; mkdir -p "$CACHE/kroot"
  (cd "$CACHE" && apt-get download "$KPKG" >/dev/null)
  dpkg-deb --fsys-tarfile "$CACHE"/"${KPKG}"_*.deb | tar -x -C "$CACHE/kroot" --wildcards \
    './boot/vmlinuz-*' './lib/modules/*/kernel/net/*' './lib/modules/*/kernel/lib/*' \
    './lib/modules/*/kernel/crypto/*' './lib/modules/*/kernel/arch/x86/crypto/*' \
    './lib/modules/*/kernel/drivers/net/dummy.ko' './lib/modules/*/kernel/drivers/net/veth.ko' \
    './lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/fs/9p/*' \
    './lib/modules/*/kernel/fs/netfs/*' './lib/modules/*/kernel/fs/fscache/*' './lib/modules/*/modules.*'
  rm -f "$CACHE"/*.deb
  KV=$(ls "$CACHE/kroot/lib/modules")
  depmod -b "$CACHE/kroot" "$KV"
  # QEMU boots an uncompressed ELF kernel through PVH, about twice as fast as a bzImage under TCG.
  python3 -c 'import lzma,sys;d=open(sys.argv[1],"rb").read();i=d.find(b"\xfd7zXZ\x00");open(sys.argv[2],"wb").write(lzma.LZMADecompressor().decompress(d[i:]))' \
    "$CACHE/kroot/boot/vmlinuz-$KV" "$CACHE/vmlinux"
  echo "$KV" > "$CACHE/kernel.done"
fi
KV=$(cat "$CACHE/kernel.done")

# 2. The initramfs, rebuilt when this script, init or the Node binary change.
STAMP=$(cat "$0" "$HERE/init.sh" | sha256sum | cut -c1-16)-$(stat -c %s-%Y "$NODE_BIN")
if [ ! -f "$CACHE/initrd.cpio" ] || [ "$(cat "$CACHE/initrd.stamp" 2>/dev/null)" != "$STAMP" ]; then
  R=$CACHE/rootfs; rm -rf "$R"
  mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,root,lib64,host,var/run}
  cp "$(command -v busybox)" "$R/bin/busybox"
  for a in $("$R/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"; done
  ln -sf ../bin/busybox "$R/sbin/modprobe"
  copy_bin() {
    install -D -m755 "$1" "$R$2"
    ldd "$1" 2>/dev/null | awk '/=>/{print $3} $1 ~ /^\/lib64\//{print $1}' | while read -r l; do
      [ -n "$l" ] && install -D -m755 "$(readlink -f "$l")" "$R$l"
    done
  }
  copy_bin "$(readlink -f /usr/sbin/ip 2>/dev/null || command -v ip)" /usr/sbin/ip
  copy_bin /usr/sbin/ipvsadm /usr/sbin/ipvsadm
  copy_bin /usr/sbin/ipset /usr/sbin/ipset
  copy_bin /usr/sbin/conntrack /usr/sbin/conntrack
  # procps' sysctl: busybox's takes one -w per call, and the sandbox sets several at once.
  copy_bin /sbin/sysctl /usr/sbin/sysctl
  copy_bin /usr/sbin/xtables-nft-multi /usr/sbin/xtables-nft-multi
  for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore \
           iptables-nft iptables-nft-save iptables-nft-restore ip6tables-nft ip6tables-nft-save ip6tables-nft-restore; do
    ln -sf xtables-nft-multi "$R/usr/sbin/$t"
  done
  XT=/usr/lib/x86_64-linux-gnu/xtables
  mkdir -p "$R$XT"; for so in "$XT"/*.so; do copy_bin "$so" "$so"; done
  for lib in /usr/lib/x86_64-linux-gnu/libnftnl.so.* /usr/lib/x86_64-linux-gnu/libmnl.so.*; do
    [ -e "$lib" ] && install -D -m755 "$(readlink -f "$lib")" "$R$lib"
  done
  cp /etc/protocols /etc/services "$R/etc/" 2>/dev/null || true
  [ -f /etc/ethertypes ] && cp /etc/ethertypes "$R/etc/"
  echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"
  copy_bin "$NODE_BIN" /usr/bin/node
  # Modules: IPVS and every scheduler, netfilter (nft + xtables matches/targets, NAT, conntrack, ipset),
  # bridge, dummy, veth, 9p over virtio; with their dependency closure.
  M=$CACHE/kroot/lib/modules/$KV
  mods=$( (cd "$M" && find kernel/net/netfilter kernel/net/ipv4/netfilter kernel/net/ipv6/netfilter kernel/net/bridge \
      kernel/net/9p kernel/fs kernel/drivers kernel/lib kernel/crypto kernel/arch -name '*.ko' 2>/dev/null) )
  for m in $mods ip_vs ipv6 crc32c_generic; do
    modprobe -d "$CACHE/kroot" -S "$KV" --show-depends "$(basename "$m" .ko)" 2>/dev/null | awk '$1=="insmod"{print $2}'
  done | sort -u | while read -r f; do install -D -m644 "$f" "$R/${f#$CACHE/kroot/}"; done
  cp "$M"/modules.{builtin,builtin.modinfo,order} "$R/lib/modules/$KV/"
  depmod -b "$R" "$KV"
  install -m755 "$HERE/init.sh" "$R/init"
  (cd "$R" && find . | "$R/bin/busybox" cpio -o -H newc -R 0:0 2>/dev/null) > "$CACHE/initrd.cpio.tmp"
  mv "$CACHE/initrd.cpio.tmp" "$CACHE/initrd.cpio"
  echo "$STAMP" > "$CACHE/initrd.stamp"
fi
echo "$CACHE/vmlinux"
echo "$CACHE/initrd.cpio"
