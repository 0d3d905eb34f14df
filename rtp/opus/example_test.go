package opus_test

import (
	"fmt"

	"github.com/dialtone/dialtone/rtp/opus"
)

// The peer's a=fmtp decides how we encode what we send it.
func ExampleParseFmtp() {
	p, err := opus.ParseFmtp("maxaveragebitrate=20000;stereo=1;useinbandfec=1")
	if err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", p.EncoderConfig(0))
	// Output: {Bitrate:20000 FEC:true PacketLossPercent:0 DTX:false SampleRate:0}
}
