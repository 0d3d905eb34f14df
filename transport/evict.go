package transport

import "time"

// evictExpiring makes room in m, a map bounded to max entries whose
// entries each end at expiry(v): it deletes every entry ended by now and,
// if m is still full, the one that ends soonest.
func evictExpiring[K comparable, V any](m map[K]V, now time.Time, max int, expiry func(V) time.Time) {
	var soonest K
	var soonestAt time.Time
	for k, v := range m {
		at := expiry(v)
		if !now.Before(at) {
			delete(m, k)
			continue
		}
		if soonestAt.IsZero() || at.Before(soonestAt) {
			soonest, soonestAt = k, at
		}
	}
	if len(m) >= max {
		delete(m, soonest)
	}
}
