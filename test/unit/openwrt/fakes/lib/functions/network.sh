# Fake network.sh: netifd state from $FAKE_UCI/netifd.sh (NETIFD_<iface>_device, _ipaddrs).
[ -f "$FAKE_UCI/netifd.sh" ] && . "$FAKE_UCI/netifd.sh"
network_get_device() { eval "$1=\${NETIFD_${2}_device}"; }
network_get_ipaddrs() { eval "$1=\${NETIFD_${2}_ipaddrs}"; }
