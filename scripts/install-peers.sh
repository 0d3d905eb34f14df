#!/usr/bin/env bash
# Installs the independent SIP peers and tools the interop tests drive
# (Debian 12 packages): SIPp (sip-tester), Kamailio, baresip, tshark, sox,
# the network tools of the tests that build namespaces (iproute2, iptables),
# coturn (its turnserver is the STUN server of the NAT tests), ffmpeg
# (rtp/g722 checks its G.722 codec against FFmpeg's), libopus-dev (the
# Opus codec of builds with the tag opus), PostgreSQL
# (proxy/location/pgstore's tests start their own server) and dnsmasq
# (the failover tests' DNS server).
# Idempotent: does nothing when every tool is already there.
set -euo pipefail
need=()
command -v sipp >/dev/null || need+=(sip-tester)
command -v tshark >/dev/null || need+=(tshark)
command -v kamailio >/dev/null || need+=(kamailio kamailio-tls-modules)
compgen -G '/usr/lib/*/kamailio/modules/tls.so' >/dev/null || need+=(kamailio-tls-modules)
compgen -G '/usr/lib/*/kamailio/modules/websocket.so' >/dev/null || need+=(kamailio-websocket-modules)
command -v turnserver >/dev/null || need+=(coturn)
command -v baresip >/dev/null || need+=(baresip-core)
command -v sox >/dev/null || need+=(sox libsox-fmt-base)
command -v ffmpeg >/dev/null || need+=(ffmpeg)
# rtp/opus' cgo build (tag opus) links libopus.
[ -f /usr/include/opus/opus.h ] || need+=(libopus-dev pkg-config)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v ss >/dev/null || need+=(iproute2)
command -v iptables >/dev/null || need+=(iptables)
command -v openssl >/dev/null || need+=(openssl)
# scripts/soak.sh scrapes the metrics endpoint and picks free ports.
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need+=(postgresql)
# dnsmasq serves the failover tests' NAPTR/SRV/A records (the binary only,
# no system service).
command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
[ ${#need[@]} -eq 0 ] && exit 0
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; the answer does not matter here.
echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
apt-get update -q
apt-get install -y -q --no-install-recommends "${need[@]}"
