package memnet_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"

	"github.com/dialtone/dialtone/internal/memnet"
)

// A client behind a NAT registers with a server; the server sees the NAT's
// public address (what rport reports, RFC 3581) and its reply gets back in.
func ExampleNetwork_AddNAT() {
	ctx := context.Background()
	n := memnet.New(memnet.Config{})
	defer n.Close()
	if _, err := n.AddNAT(netip.MustParsePrefix("10.0.0.0/24"), netip.MustParseAddr("203.0.113.1"), memnet.PortRestricted); err != nil {
		fmt.Println(err)
		return
	}
	server, _ := n.ListenPacket(ctx, "udp", "192.0.2.10:5060")
	phone, _ := n.Host(netip.MustParseAddr("10.0.0.2")).ListenPacket(ctx, "udp", ":5060")

	phone.WriteTo([]byte("REGISTER"), &net.UDPAddr{IP: net.ParseIP("192.0.2.10"), Port: 5060})
	buf := make([]byte, 1500)
	nr, from, _ := server.ReadFrom(buf)
	fmt.Printf("server got %s from %v\n", buf[:nr], from)

	server.WriteTo([]byte("200 OK"), from)
	nr, from, _ = phone.ReadFrom(buf)
	fmt.Printf("phone got %s from %v\n", buf[:nr], from)
	fmt.Printf("%+v\n", n.Stats())
	// Output:
	// server got REGISTER from 203.0.113.1:20000
	// phone got 200 OK from 192.0.2.10:5060
	// {Sent:2 Delivered:2 Duplicated:0 Reordered:0 Lost:0 RefusedWrites:0 TooBig:0 QueueFull:0 Unreachable:0 Filtered:0 Dials:0 Refused:0}
}

// Stream connections are buffered byte streams with TCP's close semantics.
func ExampleNetwork_Listen() {
	ctx := context.Background()
	n := memnet.New(memnet.Config{})
	defer n.Close()
	ln, _ := n.Listen(ctx, "tcp", "[2001:db8::1]:5060")
	c, _ := n.DialContext(ctx, "tcp", "[2001:db8::1]:5060")
	s, _ := ln.Accept()

	c.Write([]byte("OPTIONS sip:bob@example.com SIP/2.0\r\n\r\n"))
	c.(*memnet.Conn).CloseWrite()
	req, _ := io.ReadAll(s)
	fmt.Printf("%q from %T %v\n", req, s.RemoteAddr(), s.LocalAddr())
	// Output:
	// "OPTIONS sip:bob@example.com SIP/2.0\r\n\r\n" from *net.TCPAddr [2001:db8::1]:5060
}
