package g722

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tables agree with the definitions they come from.
func TestTables(t *testing.T) {
	t.Run("QMF is symmetric with unit gain", func(t *testing.T) {
		var sum, even int32
		for i, h := range qmfCoeffs {
			assert.Equal(t, h, qmfCoeffs[23-i], "h%d", i)
			sum += h
			if i%2 == 0 {
				even += h
			}
		}
		assert.Equal(t, int32(1<<13), sum, "DC gain 1 in units of 2^-13")
		assert.Equal(t, int32(1<<12), even, "each polyphase half passes half")
	})
	t.Run("ilb is 2048 * 2^(i/32)", func(t *testing.T) {
		for i, v := range ilb {
			assert.Equal(t, int32(math.Round(2048*math.Pow(2, float64(i)/32))), v, "ilb[%d]", i)
		}
	})
	t.Run("decision levels grow", func(t *testing.T) {
		for m := 1; m < len(q6); m++ {
			assert.Less(t, q6[m-1], q6[m])
		}
	})
	t.Run("6-bit codes are distinct and never 0 to 3", func(t *testing.T) {
		seen := map[uint8]bool{}
		for m := 1; m <= 30; m++ {
			for _, c := range []uint8{ilpCode[m], ilnCode[m]} {
				assert.False(t, seen[c], "code %d twice", c)
				assert.GreaterOrEqual(t, c, uint8(4))
				assert.Less(t, c, uint8(64))
				seen[c] = true
			}
		}
		assert.Len(t, seen, 60)
	})
	t.Run("inverse quantizers reconstruct inside their intervals", func(t *testing.T) {
		for m := 1; m <= 30; m++ {
			lo, hi := float64(q6[m-1]), math.Inf(1)
			if m < 30 {
				hi = float64(q6[m])
			}
			// 6 bits: one level per interval, symmetric.
			level := float64(qm6[ilpCode[m]]) / 8
			assert.True(t, level >= lo && level < hi, "6-bit level %v of interval %d", level, m)
			assert.Equal(t, -qm6[ilpCode[m]], qm6[ilnCode[m]], "6-bit interval %d", m)
			// 5 bits: the code drops the least significant bit, merging
			// intervals in pairs.
			level5 := float64(qm5[ilpCode[m]>>1]) / 8
			m0 := m - (m-1)%2 // first interval of the pair
			assert.True(t, level5 >= float64(q6[m0-1]), "5-bit level %v of interval %d", level5, m)
			assert.Equal(t, -qm5[ilpCode[m]>>1], qm5[ilnCode[m]>>1], "5-bit interval %d", m)
			// 4 bits: symmetric as well; the predictors use these.
			assert.Equal(t, -qm4[ilpCode[m]>>2], qm4[ilnCode[m]>>2], "4-bit interval %d", m)
			// The log scale factor grows with the magnitude of the code.
			if m > 1 {
				assert.GreaterOrEqual(t, wl[rl42[ilpCode[m]>>2]], wl[rl42[ilpCode[m-1]>>2]])
				assert.Equal(t, wl[rl42[ilpCode[m]>>2]], wl[rl42[ilnCode[m]>>2]])
			}
		}
	})
	t.Run("higher band codes", func(t *testing.T) {
		for mih := 1; mih <= 2; mih++ {
			p, n := ihpCode[mih], ihnCode[mih]
			assert.Equal(t, -qm2[p], qm2[n])
			assert.Positive(t, qm2[p])
			assert.Equal(t, wh[rh2[p]], wh[rh2[n]])
		}
		require.Less(t, qm2[ihpCode[1]], qm2[ihpCode[2]])
		assert.Less(t, wh[rh2[ihpCode[1]]], wh[rh2[ihpCode[2]]])
	})
	t.Run("scale factor limits", func(t *testing.T) {
		var b band
		b.adaptScale(0, nblMax, scaleShiftLow)
		assert.Equal(t, int32(detLowMin), b.de)
		b.adaptScale(0, nbhMax, scaleShiftHigh)
		assert.Equal(t, int32(detHighMin), b.de)
		b.nb = nblMax
		b.adaptScale(1<<14, nblMax, scaleShiftLow)
		assert.Equal(t, int32(nblMax), b.nb)
		assert.Equal(t, int32(16384), b.de)
		b.nb = nbhMax
		b.adaptScale(1<<14, nbhMax, scaleShiftHigh)
		assert.Equal(t, int32(16384), b.de)
	})
}
