package proxy_test

import (
	"testing"

	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/proxy/location/locationtest"
)

func TestMemoryLocationConformance(t *testing.T) {
	locationtest.Run(t, locationtest.Store{
		New: func(*testing.T) locationtest.Handle {
			return locationtest.Handle{Location: proxy.NewMemoryLocation()}
		},
	})
}
