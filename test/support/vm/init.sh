#!/bin/sh
# PID 1 of the IPVS test VM. Everything it prints on ttyS0 is QEMU's stdout; the harness reads the "@@ EXIT=N" line
# because QEMU itself exits 0 whatever happened inside.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp; mount -t tmpfs run /run
mkdir -p /run/netns /var/run; ln -sf /run/netns /var/run/netns 2>/dev/null
for m in virtio_pci 9pnet_virtio 9p ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_lblc ip_vs_lblcr ip_vs_sh ip_vs_dh \
         ip_vs_sed ip_vs_nq ip_vs_mh dummy veth bridge br_netfilter nf_tables nft_compat nft_chain_nat nft_ct nf_nat \
         nf_conntrack nf_conntrack_netlink xt_MASQUERADE xt_mark xt_comment xt_addrtype xt_conntrack xt_set xt_statistic \
         xt_recent xt_nat xt_tcpudp xt_multiport xt_physdev xt_REDIRECT nft_masq nft_redir ip_set ip_set_hash_ip \
         ip_set_hash_ipport ip_set_hash_ipportip ip_set_hash_ipportnet ip_set_hash_net ip_set_bitmap_port \
         ip_set_hash_netport ip6_tables ip_tables iptable_nat iptable_filter nf_reject_ipv4 nft_reject_inet \
         nft_reject_ipv4 xt_REJECT ipt_REJECT; do
  modprobe "$m" 2>/dev/null
done
/usr/sbin/ip link set lo up
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose host /host 2>/dev/null || echo "@@ no 9p share"
echo "@@ BOOTED uptime=$(cut -d' ' -f1 /proc/uptime)"
SCRIPT=$(sed -n 's/.*kpxvm\.script=\([^ ]*\).*/\1/p' /proc/cmdline)
rc=127
if [ -n "$SCRIPT" ] && [ -f "/host/$SCRIPT" ]; then
  cd /host && /bin/sh "/host/$SCRIPT"; rc=$?
else
  echo "@@ no script: $SCRIPT"
fi
echo "@@ EXIT=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"
sync; poweroff -f
