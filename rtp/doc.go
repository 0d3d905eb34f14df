// Package rtp is Dialtone's media layer: the pieces that turn audio into RTP
// packets and back for SIP calls.
//
// The media jobs live in subpackages, one job each, over the shared
// vocabulary of rtp/audio (sample rate, frame size, Codec):
//
//   - rtp/sdp: the SDP model and RFC 3264 offer/answer (Negotiator,
//     Parse, Direction), over pion/sdp/v3.
//   - rtp/g711: G.711 μ-law and A-law (RFC 3551 §4.5.14).
//   - rtp/g722: the G.722 codec.
//   - rtp/opus: Opus through libopus (build tag opus; RFC 7587).
//   - rtp/dtmf: RFC 4733 telephone events (Sender, Receiver).
//   - rtp/jitter: the playout buffer (reordering, concealment, adaptive
//     delay from the RFC 3550 §6.4.1 jitter estimate).
//   - rtp/wav: WAV files, tone generators and a tone detector.
//   - rtp/srtp: SRTP keyed by SDES (a=crypto) or DTLS-SRTP over
//     pion/srtp and pion/dtls, the off/optional/mandatory/dtls policy;
//     Session.SetSRTP turns it on, Session.HandshakeDTLS keys it by a
//     DTLS handshake on the RTP socket (and one on the RTCP socket without
//     rtcp-mux).
//
// What is here is the media session and its pacing:
//
//   - Session: one call's media. A PortAllocator hands out RTP/RTCP port
//     pairs (or one port with rtcp-mux); the session latches onto the
//     peer's real source (symmetric RTP), paces its sending at ptime from
//     the monotonic clock, plays received audio out through a jitter.Buffer,
//     sends and receives RFC 4733 digits, and runs RTCP (RFC 3550 §6:
//     report intervals, loss, jitter, round-trip time, BYE on Close).
//     WriteFrame/ReadFrame move PCM frames; Play and Record connect a
//     FrameSource or FrameSink. While the host writes nothing the session
//     sends silence, or RFC 3389 comfort noise when negotiated
//     (SessionConfig.SuppressSilence opts out); received comfort noise
//     plays at its level; on hold it sends RFC 6263 keep-alives
//     (SessionConfig.IdleKeepAlive). A PacketTracer (SessionConfig.Tracer)
//     sees every datagram sent and received, for captures.
//   - Engine: the media clock many sessions share (one per PortAllocator
//     by default). A few workers, one per GOMAXPROCS, each keep a deadline
//     heap of their sessions and tick every session once per ptime on a
//     1 ms grid, with the sessions spread over the slots of a frame period;
//     on 64-bit Linux each tick also reads the session's socket without waiting
//     (recvmmsg, MSG_DONTWAIT), with the kernel's arrival timestamps
//     (SO_TIMESTAMPNS) for the jitter estimate, so a call costs no
//     goroutine, no timer and no wake-up per packet; the frames of all
//     the sessions due at one wake-up leave in one io_uring call. 1,000
//     G.711 calls take about half of one core
//     (BenchmarkEchoSessionsRemote). A Ticker runs a function of the
//     host's on the same clock (rtp/mix's conference mixer), moving
//     frames with the sessions' non-blocking PollFrame and PushFrame.
//
// Of Dialtone the package imports its subpackages and two helpers from
// internal/ (the deadline heap and socket addresses); the signaling layers
// do not import it: package ua glues the two together.
//
// Audio is 16-bit linear PCM ([]int16) at audio.SampleRate (8000 Hz) in frames
// of audio.FrameSamples (160 samples, 20 ms), or at 16000 Hz (320 samples)
// when the call has G.722, or 48000 Hz (960 samples) when it has Opus (a
// build with the tag opus), or the rate SessionConfig.HostSampleRate fixes
// (8000 or 16000, whatever the codec; Opus then codes at that rate
// itself): Session.SampleRate says which. Every frame source
// (wav.ToneGenerator, wav.SilenceSource, wav.Reader) has the method
//
//	ReadFrame(dst []int16) ([]int16, error)
//
// RFCs covered: RFC 3550 (RTP: packet header §5.1, jitter estimate §6.4.1,
// sequence number handling §A.1), RFC 3551 (the AVP profile: static payload
// types 0 and 8, G.711, 20 ms framing), RFC 4733 (DTMF events §2.3, sender
// rules §2.5.1, receiver rules §2.5.2, event codes §3.2).
//
// # Buffer ownership
//
// Functions that produce bytes or samples append to a caller-supplied dst
// slice and return it (g711.EncodeULaw(dst, src), dtmf.Event.AppendTo,
// ReadFrame, jitter.Buffer.Pop, ...). They never keep dst, and they allocate
// only when dst lacks capacity, so a caller that reuses its buffers encodes,
// packetizes, depacketizes, decodes and plays out with no allocation in
// steady state. Inputs are only read during the call: jitter.Buffer.Push
// copies the decoded payload into its own preallocated slots, so the packet
// buffer may be reused as soon as Push returns. A pion rtp.Packet unmarshaled
// from a datagram aliases that datagram (its Payload points into it); keep
// the datagram until the payload has been decoded or pushed.
//
// # Time and concurrency
//
// The media primitives do not read the clock or start goroutines:
// dtmf.Sender returns send offsets, and dtmf.Receiver and jitter.Buffer take
// the current time as an argument, so they are tested in virtual time.
// Their stateful types (dtmf.Receiver, jitter.Buffer, wav.ToneGenerator,
// wav.Reader, wav.Writer) are not safe for concurrent use; their owner
// serializes access. A Session is driven by an Engine worker and Close,
// idempotent, takes it off the engine and waits for a tick in progress; its
// methods are safe for concurrent use. An Engine's workers run only while
// it has sessions: the Close of the last one waits for them to stop, so
// nothing outlives the sessions. Sessions created inside a testing/synctest
// bubble need an Engine (or PortAllocator) of that bubble.
//
// # Sockets
//
// On 64-bit Linux, session sockets are opened outside the Go runtime's network
// poller (a datagram's arrival wakes nobody) and read by the engine at each
// tick, up to 32 datagrams per socket and tick, the rest waiting for the
// next tick, so a flood on one session does not hold up the others. A
// separate RTCP socket is read every 100 ms. Each worker reads and sends
// through an io_uring of its own (Linux 5.6 or later): at a wake-up it
// reads the sockets of every session due with IORING_OP_RECVMSG, two reads
// a socket (one for the frame a period brings, one that finds it empty),
// more for those that had more, all of a round in one system call; then
// it sends their packets, one IORING_OP_SENDMSG each, all of the wake-up
// in one system call, since recvmmsg and sendmmsg batch only on one
// socket. Every read and send is complete when its call returns, so a
// session's sockets close as they did without the ring. Where the kernel
// refuses a ring, or with EngineConfig.NoRing, each session reads its
// sockets with recvmmsg (8 datagrams a call) and each packet is a sendto. Other systems, and builds with the rtp_netpoll tag,
// use net.UDPConn with one reader goroutine per socket instead.
package rtp
