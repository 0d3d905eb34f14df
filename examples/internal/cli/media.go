package cli

import (
	"flag"
	"os"
	"strings"
	"time"

	"github.com/dialtone/dialtone/rtp"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/opus"
	"github.com/dialtone/dialtone/rtp/srtp"
	"github.com/dialtone/dialtone/ua"
)

// MediaFlags are the flags that choose a program's codecs and media
// security, -codecs and -srtp, -no-symmetric, and -rtp-timeout.
type MediaFlags struct {
	codecs, srtp *string
	noSymmetric  *bool
	rtpTimeout   *time.Duration
}

// AddMediaFlags adds -codecs, -srtp, -no-symmetric and -rtp-timeout to fs.
func AddMediaFlags(fs *flag.FlagSet) *MediaFlags {
	return &MediaFlags{
		rtpTimeout: fs.Duration("rtp-timeout", 0,
			"hang up a call whose peer sent no RTP and no RTCP for this long while it was to send (a vanished peer; 0: never)"),
		codecs: fs.String("codecs", "pcmu,pcma", "audio codecs offered and accepted, in preference order: pcmu, pcma, g722, opus (opus in a build with -tags opus; telephone-event is always added)"),
		srtp:   fs.String("srtp", "", "SRTP policy: off, optional (RTP/AVP with a=crypto), mandatory (RTP/SAVP), dtls (UDP/TLS/RTP/SAVP keyed by DTLS-SRTP) (default: off, mandatory for sips:)"),
		noSymmetric: fs.Bool("no-symmetric", false,
			"send RTP only where the peer's SDP says, never to the source its RTP comes from (symmetric RTP off; for checking what a peer announces)"),
	}
}

// Apply validates the flags and sets them in mc.
func (m *MediaFlags) Apply(mc *ua.MediaConfig) error {
	codecs, err := ParseCodecs(*m.codecs)
	if err != nil {
		return err
	}
	mc.Codecs = codecs
	p, err := srtp.ParsePolicy(*m.srtp)
	if err != nil {
		return Usagef("-srtp %q: want off, optional, mandatory or dtls", *m.srtp)
	}
	mc.SRTP = p
	mc.DisableSymmetric = *m.noSymmetric
	if *m.rtpTimeout < 0 {
		return Usagef("-rtp-timeout %s: want a duration of 0 or more", *m.rtpTimeout)
	}
	mc.RTPTimeout = *m.rtpTimeout
	return nil
}

// ParseCodecs parses a comma-separated list of codec names (pcmu, pcma,
// g722, opus: the last only in a build with the tag opus) into the codecs to offer, in that order, with telephone-event
// last.
func ParseCodecs(s string) ([]audio.Codec, error) {
	var out []audio.Codec
	seen := map[string]bool{}
	for name := range strings.SplitSeq(s, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if seen[name] {
			return nil, Usagef("-codecs %q: %s twice", s, name)
		}
		seen[name] = true
		switch name {
		case "pcmu":
			out = append(out, audio.PCMU())
		case "pcma":
			out = append(out, audio.PCMA())
		case "g722":
			out = append(out, audio.G722())
		case "opus":
			if !opus.Available {
				return nil, Usagef("-codecs: %v", opus.ErrUnavailable)
			}
			out = append(out, audio.Opus())
		default:
			return nil, Usagef("-codecs %q: unknown codec %q (want pcmu, pcma, g722, opus)", s, name)
		}
	}
	return append(out, audio.TelephoneEvent()), nil
}

// HoldMusicFlag is -hold-music FILE: the WAV file a peer hears, looped,
// while the program holds the call (ua.MediaConfig.HoldMusic).
type HoldMusicFlag struct {
	file *string
}

// AddHoldMusicFlag adds -hold-music to fs.
func AddHoldMusicFlag(fs *flag.FlagSet) *HoldMusicFlag {
	return AddHoldMusicFlagUsage(fs, "WAV file the peer hears, looped, while we hold the call (default: silence)")
}

// AddHoldMusicFlagUsage adds -hold-music to fs with the program's own
// usage text (when the program plays it).
func AddHoldMusicFlagUsage(fs *flag.FlagSet, usage string) *HoldMusicFlag {
	return &HoldMusicFlag{file: fs.String("hold-music", "", usage)}
}

// Apply loads the file, when one is named, into mc.HoldMusic.
func (h *HoldMusicFlag) Apply(mc *ua.MediaConfig) error {
	l, err := h.Load()
	if l != nil {
		mc.HoldMusic = l
	}
	return err
}

// Load loads the file: nil without -hold-music.
func (h *HoldMusicFlag) Load() (*rtp.Loop, error) {
	if *h.file == "" {
		return nil, nil
	}
	f, err := os.Open(*h.file)
	if err != nil {
		return nil, Usagef("-hold-music: %v", err)
	}
	defer f.Close()
	l, err := rtp.LoadLoop(f)
	if err != nil {
		return nil, Usagef("-hold-music %s: %v", *h.file, err)
	}
	return l, nil
}
