package discovery

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"
)

// Endpoint is one place to send to: a router's address and where it lives.
type Endpoint struct {
	ID       string            // stable identity; when empty, Addr is the identity
	Addr     string            // host:port to dial
	Zone     string            // availability zone ("" = unknown)
	Metadata map[string]string // free-form labels (job, index, scheme, ...)
}

// Key returns the endpoint's identity: ID, or Addr when ID is empty.
func (e Endpoint) Key() string {
	if e.ID != "" {
		return e.ID
	}
	return e.Addr
}

// Equal reports whether e and o have the same identity, address, zone and
// metadata.
func (e Endpoint) Equal(o Endpoint) bool {
	return e.ID == o.ID && e.Addr == o.Addr && e.Zone == o.Zone && maps.Equal(e.Metadata, o.Metadata)
}

// State is what a Source knows at one moment.
type State struct {
	Endpoints []Endpoint // current set; when Err != nil this is the last good set
	Confirmed time.Time  // when the source last confirmed this set
	Err       error      // last error, nil if the last attempt succeeded
}

// Age reports how stale the state is at now: the time since the set was
// last confirmed. A state that was never confirmed is infinitely old and
// reports the largest Duration.
func (s State) Age(now time.Time) time.Duration {
	if s.Confirmed.IsZero() {
		return time.Duration(1<<63 - 1)
	}
	if d := now.Sub(s.Confirmed); d > 0 {
		return d
	}
	return 0
}

// Fresh reports whether the state is good to act on: no error, at least one
// endpoint, and confirmed within maxAge (maxAge <= 0 skips the age check).
func (s State) Fresh(now time.Time, maxAge time.Duration) bool {
	if s.Err != nil || len(s.Endpoints) == 0 {
		return false
	}
	return maxAge <= 0 || s.Age(now) <= maxAge
}

// Source delivers a set of endpoints and its changes, with freshness.
//
// A Source that fails keeps its last good set in State.Endpoints, sets
// State.Err and stops advancing State.Confirmed: consumers decide with
// State.Age and State.Err whether to keep using the set.
type Source interface {
	// Subscribe sends the current State at once, then every change (endpoint set or error status).
	// Coalescing: a slow receiver gets the latest State, never a backlog. Channel closed after ctx ends.
	Subscribe(ctx context.Context) <-chan State
	// State returns the latest State without waiting.
	State() State
}

// ErrNoEndpoints is the State.Err of a source whose lookup succeeded but
// found no endpoint. Unless the source allows empty sets (WithAllowEmpty),
// an empty answer is treated as a failure: the last good set is kept.
var ErrNoEndpoints = errors.New("discovery: no endpoints found")

// ErrStale is the State.Err that First reports when the state it falls back
// to is older than its maximum age.
var ErrStale = errors.New("discovery: state is stale")

// ErrClosed is the State.Err of a source after Close.
var ErrClosed = errors.New("discovery: source closed")

// normalize returns a copy of eps without duplicates (the last endpoint with
// a given Key wins), sorted by Key, with metadata maps copied so callers
// cannot change a published set.
func normalize(eps []Endpoint) []Endpoint {
	if len(eps) == 0 {
		return nil
	}
	byKey := make(map[string]Endpoint, len(eps))
	for _, e := range eps {
		if e.Metadata != nil {
			e.Metadata = maps.Clone(e.Metadata)
		}
		byKey[e.Key()] = e
	}
	out := slices.Collect(maps.Values(byKey))
	slices.SortFunc(out, func(a, b Endpoint) int { return strings.Compare(a.Key(), b.Key()) })
	return out
}

// sameSet reports whether two normalized sets are equal.
func sameSet(a, b []Endpoint) bool {
	return slices.EqualFunc(a, b, Endpoint.Equal)
}

// sameErr reports whether two error statuses are the same for change
// notification: both nil, or both non-nil with the same text.
func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

// sameState reports whether a change from a to b is worth notifying:
// Confirmed advancing alone is not a change.
func sameState(a, b State) bool {
	return sameSet(a.Endpoints, b.Endpoints) && sameErr(a.Err, b.Err)
}

// copyState returns s with its own copy of the endpoint slice, so receivers
// may keep or modify what they got.
func copyState(s State) State {
	if s.Endpoints != nil {
		eps := make([]Endpoint, len(s.Endpoints))
		for i, e := range s.Endpoints {
			if e.Metadata != nil {
				e.Metadata = maps.Clone(e.Metadata)
			}
			eps[i] = e
		}
		s.Endpoints = eps
	}
	return s
}
