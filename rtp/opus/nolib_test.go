//go:build !opus || !cgo

package opus

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUnavailableWithoutTag(t *testing.T) {
	assert.False(t, Available)
	e, err := NewEncoder(EncoderConfig{})
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Nil(t, e)
	d, err := NewDecoder()
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Nil(t, d)
	assert.Contains(t, err.Error(), "-tags opus")
	d, err = NewDecoderRate(16000)
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Nil(t, d)
	_, err = NewDecoderRate(44100)
	require.ErrorIs(t, err, ErrCodec, "a rate libopus lacks says so first")
	_, err = NewEncoder(EncoderConfig{SampleRate: 44100})
	require.ErrorIs(t, err, ErrCodec)
}
