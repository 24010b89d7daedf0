# Run inside the guest (test/vm/vm.test.ts): the kernel data plane's prerequisites, one line per
# check ("CHECK <name> ok <detail>" or "CHECK <name> fail <detail>"), also written to
# $VM_SHARE/checks.txt. Uses two network namespaces created here; the guest is thrown away after.
out="$VM_SHARE/checks.txt"
: > "$out"
check() {
  name=$1; shift
  t0=$(date +%s%N)
  if detail=$("$@" 2>&1); then st=ok; else st=fail; fi
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  line="CHECK $name $st [${ms} ms] $(printf '%s' "$detail" | tr '\n' ' ' | cut -c1-400)"
  echo "$line"; echo "$line" >> "$out"
}
A="ip netns exec va"; B="ip netns exec vb"

modules() {
  for m in ipip xfrm_user esp4 sch_netem veth tun bridge nf_tables nft_nat; do modprobe "$m" || return 1; done
  lsmod | awk 'NR>1 {print $1}' | sort | tr '\n' ' '
}
check modules modules

check kernel uname -r

topology() {
  ip netns add va && ip netns add vb &&
  ip link add v0 netns va type veth peer name v0 netns vb &&
  $A ip addr add 10.0.0.1/24 dev v0 && $B ip addr add 10.0.0.2/24 dev v0 &&
  $A ip link set v0 up && $B ip link set v0 up && $A ip link set lo up && $B ip link set lo up &&
  $A ping -c 1 -W 5 10.0.0.2
}
check veth-netns topology

collect_md() {
  for ns in va vb; do
    ip netns exec $ns ip link add ipip0 type ipip external || return 1
    ip netns exec $ns ip link set ipip0 up || return 1
    ip netns exec $ns sysctl -q -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.ipip0.rp_filter=0 || return 1
  done
  $A ip -d link show ipip0 | grep -q 'ipip external' || { echo "no 'external' in: $($A ip -d link show ipip0)"; return 1; }
  $A ip -d link show ipip0 | grep -o 'ipip external.*' | cut -c1-60
}
check ipip-external collect_md

lwtunnel() {
  # Node side (va) owns 10.8.8.1, the far side (vb) owns 10.9.9.9; each reaches the other only
  # through a per-destination lightweight-tunnel route on the one collect_md ipip device.
  $A ip addr add 10.8.8.1/32 dev lo && $B ip addr add 10.9.9.9/32 dev lo &&
  $A ip route add 10.9.9.9/32 encap ip id 0 dst 10.0.0.2 ttl 64 dev ipip0 src 10.8.8.1 &&
  $B ip route add 10.8.8.1/32 encap ip id 0 dst 10.0.0.1 ttl 64 dev ipip0 &&
  $A ip route show 10.9.9.9/32 | grep -q 'encap ip' &&
  $A ping -c 3 -i 0.2 -W 5 -I 10.8.8.1 10.9.9.9 >/dev/null || return 1
  tx=$($A cat /sys/class/net/ipip0/statistics/tx_packets); rx=$($B cat /sys/class/net/ipip0/statistics/rx_packets)
  [ "$tx" -ge 3 ] && [ "$rx" -ge 3 ] || { echo "ipip0 counters: va tx=$tx vb rx=$rx"; return 1; }
  echo "3/3 echo replies through ipip0 (va tx=$tx, vb rx=$rx): $($A ip route show 10.9.9.9/32)"
}
check ipip-lwtunnel lwtunnel

xfrm() {
  $A ip xfrm state >/dev/null || return 1
  k=0x0102030405060708090a0b0c0d0e0f1011121314
  for ns in va vb; do
    ip netns exec $ns ip xfrm state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x1001 reqid 1 mode transport aead 'rfc4106(gcm(aes))' $k 128 || return 1
    ip netns exec $ns ip xfrm state add src 10.0.0.2 dst 10.0.0.1 proto esp spi 0x1002 reqid 1 mode transport aead 'rfc4106(gcm(aes))' $k 128 || return 1
  done
  $A ip xfrm policy add src 10.0.0.1/32 dst 10.0.0.2/32 proto icmp dir out tmpl proto esp reqid 1 mode transport &&
  $A ip xfrm policy add src 10.0.0.2/32 dst 10.0.0.1/32 proto icmp dir in tmpl proto esp reqid 1 mode transport &&
  $B ip xfrm policy add src 10.0.0.2/32 dst 10.0.0.1/32 proto icmp dir out tmpl proto esp reqid 1 mode transport &&
  $B ip xfrm policy add src 10.0.0.1/32 dst 10.0.0.2/32 proto icmp dir in tmpl proto esp reqid 1 mode transport || return 1
  $A ping -c 2 -i 0.2 -W 5 10.0.0.2 >/dev/null || return 1
  n=$($A ip -s xfrm state get src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x1001 | sed -n 's/.* \([0-9]*\)(packets).*/\1/p' | head -1)
  [ "${n:-0}" -ge 2 ] || { echo "esp packets out: ${n:-none}"; return 1; }
  $A ip xfrm policy flush && $B ip xfrm policy flush && $A ip xfrm state flush && $B ip xfrm state flush
  echo "ESP transport (rfc4106 gcm-aes) va->vb: $n packets"
}
check xfrm-esp xfrm

netem() {
  $A tc qdisc add dev v0 root netem delay 20ms || return 1
  $A tc qdisc show dev v0 | grep -q 'delay 20ms' || return 1
  rtt=$($A ping -c 3 -i 0.2 -W 5 10.0.0.2 | sed -n 's/.*= [0-9.]*\/\([0-9.]*\)\/.*/\1/p')
  $A tc qdisc del dev v0 root
  [ -n "$rtt" ] && awk -v r="$rtt" 'BEGIN { exit !(r >= 19.5) }' || { echo "avg rtt ${rtt:-none} ms"; return 1; }
  echo "avg rtt ${rtt} ms with netem delay 20ms"
}
check netem-delay netem

check node-version node --version
check roamd-decode node /work/main/dist/roamd.js decode 0a00f5ff00000000

ip netns del va; ip netns del vb
grep -q ' fail ' "$out" && exit 1
exit 0
