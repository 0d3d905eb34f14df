package rtpsock

import (
	"net"
	"net/netip"
)

// ListenUDP binds the RTP socket to addr:port and, without mux, the RTCP
// socket to port+1 (rtcp is nil with mux). When the second bind fails the
// first socket is closed. A port another program holds gives an error
// wrapping syscall.EADDRINUSE.
func ListenUDP(addr netip.Addr, port int, mux bool) (rtp, rtcp *net.UDPConn, err error) {
	network := "udp4"
	if addr.Is6() {
		network = "udp6"
	}
	rtp, err = net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, uint16(port))))
	if err != nil || mux {
		return rtp, nil, err
	}
	rtcp, err = net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, uint16(port+1))))
	if err != nil {
		_ = rtp.Close()
		return nil, nil, err
	}
	return rtp, rtcp, nil
}
