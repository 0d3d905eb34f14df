package proxy_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// TestRegisterAndCall: two of our UAs register with digest, call each
// other through the proxy by AOR and by alias, and hang up through the
// Record-Route.
func TestRegisterAndCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		aliases := &proxy.AliasTable{}
		require.NoError(t, aliases.Add("sip:+15551234@"+domain, "sip:bob@"+domain))
		require.NoError(t, aliases.Add("tel:+1-555-1234", "sip:bob@"+domain))
		e := newEnv(t, proxy.Config{Aliases: aliases})
		alice := e.newPhone("192.0.2.11:5060", "alice", answer, true)
		bob := e.newPhone("192.0.2.12:5060", "bob", answer, true)
		synctest.Wait()
		require.Equal(t, ua.RegRegistered, alice.state())
		require.Equal(t, ua.RegRegistered, bob.state())
		bs, err := e.loc.Lookup(context.Background(), "sip:bob@"+domain, time.Now())
		require.NoError(t, err)
		require.Len(t, bs, 1)
		require.Equal(t, "192.0.2.12", bs[0].Contact.Host)

		for _, target := range []string{"sip:bob@" + domain, "sip:+15551234@" + domain, "sip:+1-555-1234@" + domain + ";user=phone"} {
			c, err := alice.dial(t, target)
			require.NoError(t, err, target)
			in := recv(t, bob.calls, time.Minute, "bob's call")
			ic := recv(t, bob.rang, time.Second, "bob's ring")
			requireOurRecordRoutes(t, ic.Request())
			require.Equal(t, "192.0.2.12", ic.Request().URI.Host)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			require.NoError(t, c.Hangup(ctx))
			cancel()
			select {
			case <-in.Done():
			case <-time.After(time.Minute):
				t.Fatal("bob's call did not end after alice's BYE")
			}
		}
	})
}

// TestParallelFork: bob registers from two phones; one answers, the
// other rings and gets CANCEL.
func TestParallelFork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, proxy.Config{})
		alice := e.newPhone("192.0.2.11:5060", "alice", answer, true)
		desk := e.newPhone("192.0.2.12:5060", "bob", ring, true)
		mobile := e.newPhone("192.0.2.13:5060", "bob", answer, true)
		synctest.Wait()
		bs, err := e.loc.Lookup(context.Background(), "sip:bob@"+domain, time.Now())
		require.NoError(t, err)
		require.Len(t, bs, 2)
		start := time.Now()
		c, err := alice.dial(t, "sip:bob@"+domain)
		require.NoError(t, err)
		recv(t, mobile.calls, time.Minute, "the mobile's answer")
		recv(t, desk.rang, time.Second, "the desk phone ringing")
		cause := recv(t, desk.canceled, time.Minute, "CANCEL at the desk phone")
		require.ErrorIs(t, cause, transaction.ErrCanceled)
		require.Less(t, time.Since(start), 5*time.Second, "parallel: no branch waited for another")
		_ = c.Hangup(context.Background())
	})
}

// TestSequentialFork: with Sequential forking, the most recent binding
// rings first for SequentialTimeout, is canceled, and the next answers.
func TestSequentialFork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, proxy.Config{Forking: proxy.Sequential, SequentialTimeout: 8 * time.Second})
		alice := e.newPhone("192.0.2.11:5060", "alice", answer, true)
		mobile := e.newPhone("192.0.2.13:5060", "bob", answer, true)
		synctest.Wait()
		time.Sleep(time.Second)
		desk := e.newPhone("192.0.2.12:5060", "bob", ring, true) // newer: tried first
		synctest.Wait()
		start := time.Now()
		c, err := alice.dial(t, "sip:bob@"+domain)
		require.NoError(t, err)
		took := time.Since(start)
		recv(t, desk.rang, time.Second, "the desk phone ringing first")
		recv(t, mobile.calls, time.Second, "the mobile's answer")
		require.ErrorIs(t, recv(t, desk.canceled, time.Minute, "CANCEL at the desk phone"), transaction.ErrCanceled)
		require.GreaterOrEqual(t, took, 8*time.Second, "the second branch waits for the first's timeout")
		require.Less(t, took, 10*time.Second)
		_ = c.Hangup(context.Background())
	})
}

// TestRedirect: in redirect mode the caller gets 302 with bob's contacts
// and reaches him directly.
func TestRedirect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, proxy.Config{Mode: proxy.ModeRedirect})
		alice := e.newPhone("192.0.2.11:5060", "alice", answer, true)
		bob := e.newPhone("192.0.2.12:5060", "bob", answer, true)
		synctest.Wait()
		c, err := alice.dial(t, "sip:bob@"+domain)
		require.NoError(t, err)
		ic := recv(t, bob.rang, time.Minute, "bob's ring")
		require.Empty(t, ic.Request().Values("Record-Route"), "the redirect server is not in the path")
		require.Empty(t, ic.Request().Values("Via")[1:], "one Via: alice called bob directly")
		_ = c.Hangup(context.Background())
	})
}

// TestIPDomain: a domain that is the proxy's IP address, with phones on
// other ports of that address: their contacts are not the proxy, so the
// ACK and BYE of a call go on to them.
func TestIPDomain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, proxy.Config{Domains: []string{"192.0.2.1"}})
		alice := e.newPhone("192.0.2.1:6001", "alice", answer, true)
		bob := e.newPhone("192.0.2.1:6002", "bob", answer, true)
		synctest.Wait()
		require.Equal(t, ua.RegRegistered, alice.state())
		c, err := alice.dial(t, "sip:bob@192.0.2.1")
		require.NoError(t, err)
		in := recv(t, bob.calls, time.Minute, "bob's call")
		synctest.Wait()
		require.Equal(t, ua.CallEstablished, in.State(), "the ACK reached bob")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, c.Hangup(ctx))
		select {
		case <-in.Done():
		case <-time.After(time.Minute):
			t.Fatal("the BYE did not reach bob")
		}
		require.ErrorIs(t, in.Err(), ua.ErrRemoteHangup)
	})
}

// TestTCP: phones registered over TCP call each other, and a UDP phone
// calls a TCP one: the proxy reaches each over the flow it registered
// on, and the BYE crosses it both ways.
func TestTCP(t *testing.T) {
	tests := []struct {
		name       string
		alice, bob transport.Network
	}{
		{"tcp to tcp", transport.TCP, transport.TCP},
		{"udp to tcp", transport.UDP, transport.TCP},
		{"tcp to udp", transport.TCP, transport.UDP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, proxy.Config{})
				alice := e.newPhoneOn(tt.alice, "192.0.2.11:5060", "alice", answer, true)
				bob := e.newPhoneOn(tt.bob, "192.0.2.12:5060", "bob", answer, true)
				synctest.Wait()
				require.Equal(t, ua.RegRegistered, alice.state())
				require.Equal(t, ua.RegRegistered, bob.state())
				bs, err := e.loc.Lookup(context.Background(), "sip:bob@"+domain, time.Now())
				require.NoError(t, err)
				require.Len(t, bs, 1)
				require.Equal(t, tt.bob, bs[0].Source.Network)

				c, err := alice.dial(t, "sip:bob@"+domain)
				require.NoError(t, err)
				in := recv(t, bob.calls, time.Minute, "bob's call")
				synctest.Wait()
				require.Equal(t, ua.CallEstablished, in.State(), "the ACK reached bob")
				// bob hangs up: his BYE goes back through the proxy.
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				require.NoError(t, in.Hangup(ctx))
				select {
				case <-c.Done():
				case <-time.After(time.Minute):
					t.Fatal("bob's BYE did not reach alice")
				}
				require.ErrorIs(t, c.Err(), ua.ErrRemoteHangup)
			})
		})
	}
}

// TestFlowToken: bob's Contact names a host nobody can resolve (a phone
// behind a NAT or on a WebSocket connection). The INVITE reaches him on
// the flow he registered from, and the ACK and BYE of the dialog, sent to
// that Contact through the proxy's Record-Route, follow the flow token of
// the Record-Route on his side.
func TestFlowToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, proxy.Config{})
		alice := e.newPhone("192.0.2.11:5060", "alice", answer, true)
		bob := e.newPhoneContact(transport.UDP, "192.0.2.12:5060", "bob", "sip:bob@bob.invalid", answer, true)
		synctest.Wait()
		require.Equal(t, ua.RegRegistered, bob.state())
		c, err := alice.dial(t, "sip:bob@"+domain)
		require.NoError(t, err)
		require.Equal(t, "bob.invalid", c.RemoteTarget().Host)
		in := recv(t, bob.calls, time.Minute, "bob's call")
		synctest.Wait()
		require.Equal(t, ua.CallEstablished, in.State(), "the ACK reached bob")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, c.Hangup(ctx), "the BYE reached bob and he answered")
		// bob answers the BYE before his call ends: wait for the end.
		recv(t, in.Done(), time.Minute, "bob's call ending")
		require.ErrorIs(t, in.Err(), ua.ErrRemoteHangup)
	})
}

// TestCancelAndDecline: the caller's CANCEL cancels every branch and
// reaches the caller as 487; a 603 from one device cancels the other and
// reaches the caller (RFC 3261 §16.7 step 5, §16.10).
func TestCancelAndDecline(t *testing.T) {
	t.Run("caller cancels", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEnv(t, proxy.Config{})
			desk := e.newPhone("192.0.2.12:5060", "bob", ring, true)
			mobile := e.newPhone("192.0.2.13:5060", "bob", ring, true)
			synctest.Wait()
			c := e.newClient("192.0.2.50:5060", 0)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			req := newRequest(sip.INVITE, "sip:bob@"+domain, "alice", "<sip:alice@192.0.2.50:5060>")
			req.SetBody([]byte(testSDP), "application/sdp")
			tx, err := c.tx.Request(ctx, req, udpTarget(proxyAddr))
			require.NoError(t, err)
			recv(t, desk.rang, time.Minute, "the desk phone ringing")
			recv(t, mobile.rang, time.Minute, "the mobile ringing")
			canceledAt := time.Now()
			tx.Cancel()
			require.ErrorIs(t, recv(t, desk.canceled, time.Minute, "CANCEL at the desk"), transaction.ErrCanceled)
			require.ErrorIs(t, recv(t, mobile.canceled, time.Minute, "CANCEL at the mobile"), transaction.ErrCanceled)
			res, err := tx.Final(ctx)
			require.NoError(t, err)
			require.Equal(t, 487, res.StatusCode)
			require.Less(t, time.Since(canceledAt), time.Second, "the 487 follows the branches' 487s at once")
		})
	})
	t.Run("6xx ends the other branches", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEnv(t, proxy.Config{})
			alice := e.newPhone("192.0.2.11:5060", "alice", answer, true)
			desk := e.newPhone("192.0.2.12:5060", "bob", ring, true)
			e.newPhone("192.0.2.13:5060", "bob", decline, true)
			synctest.Wait()
			_, err := alice.dial(t, "sip:bob@"+domain)
			var se *ua.StatusError
			require.ErrorAs(t, err, &se, "%v", err)
			require.Equal(t, 603, se.Code())
			require.ErrorIs(t, recv(t, desk.canceled, time.Minute, "CANCEL at the desk"), transaction.ErrCanceled)
		})
	})
}

// TestLossyNetwork: registrations and calls through the proxy over a UDP
// network that loses 15% of datagrams, duplicates 10% and delays them
// 20–40 ms: retransmissions on every hop (phones, proxy) carry the calls
// through, and the duplicates are absorbed.
func TestLossyNetwork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, proxy.Config{})
		e.n.SetConditions(memnet.Conditions{Loss: 0.15, Duplicate: 0.1, Latency: 20 * time.Millisecond, Jitter: 20 * time.Millisecond})
		alice := e.newPhone("192.0.2.11:5060", "alice", answer, true)
		bob := e.newPhone("192.0.2.12:5060", "bob", answer, true)
		deadline := time.Now().Add(5 * time.Minute)
		for alice.state() != ua.RegRegistered || bob.state() != ua.RegRegistered {
			require.True(t, time.Now().Before(deadline), "registrations did not get through")
			time.Sleep(time.Second)
		}
		for i := range 5 {
			c, err := alice.dial(t, "sip:bob@"+domain)
			require.NoError(t, err, "call %d", i)
			in := recv(t, bob.calls, time.Minute, "bob's call")
			recv(t, bob.rang, time.Second, "bob's ring")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			require.NoError(t, c.Hangup(ctx), "call %d", i)
			cancel()
			select {
			case <-in.Done():
			case <-time.After(time.Minute):
				t.Fatalf("call %d: bob's side did not end", i)
			}
		}
		st := e.n.Stats()
		t.Logf("memnet: %d datagrams sent, %d lost, %d duplicated", st.Sent, st.Lost, st.Duplicated)
		require.Positive(t, st.Lost, "the network lost datagrams")
		require.Positive(t, st.Duplicated, "the network duplicated datagrams")
	})
}
