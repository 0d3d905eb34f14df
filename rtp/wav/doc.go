// Package wav reads and writes WAV files and makes test and prompt audio.
//
// Reader converts 8- to 32-bit PCM and G.711 files, stereo or multichannel,
// at 4 to 192 kHz, to mono 8 kHz frames (or to the rate SetOutputRate
// names, the 16 kHz of a G.722 call); Writer and Append write 16-bit mono
// 8 kHz files, and NewWriterRate a file at another rate. ToneGenerator makes one or two sine components,
// phase-continuous across frames; SilenceSource makes digital silence; and
// ToneLevel, a Goertzel detector, measures a tone in received audio.
//
// Reader, ToneGenerator and SilenceSource are frame sources with the
// method ReadFrame(dst []int16) ([]int16, error) that rtp.Session.Play
// accepts. They append to dst and allocate only when it lacks capacity.
// Reader, Writer and ToneGenerator are not safe for concurrent use.
package wav
