package serve

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
)

// Limits on what one subscribe request may ask of a Router. Each is refused
// before the router's lock is taken, with an error wrapping
// ErrRequestTooLarge (a Server answers InvalidArgument, a Gateway 400), and
// counted in RouterStats.Refused under its cause.
const (
	// DefaultMaxSelectors is how many selectors one request may carry.
	DefaultMaxSelectors = 10_000
	// DefaultMaxSourceIDs is how many distinct source IDs one request's
	// selectors may name.
	DefaultMaxSourceIDs = 10_000
	// DefaultMaxShardIDLen is the longest shard ID, in bytes.
	DefaultMaxShardIDLen = 256
	// DefaultMaxShards is how many shard groups (distinct non-empty shard
	// IDs with open subscriptions, or waiting out WithGroupGrace after the
	// last one left) a Router holds at once; a subscription
	// that would open one more is refused with an error wrapping
	// ErrTooManyShards (ResourceExhausted, 429). It also bounds the shard
	// IDs whose subscriptions have all left that RouterStats.Shards keeps
	// apart (see DepartedShards).
	DefaultMaxShards = 10_000
)

// DefaultMaxEnvelopeBytes is the largest envelope a Router routes, in
// wire bytes: Cloud Foundry splits application log lines at 64 KiB, so
// this leaves room for tags while keeping a 1,000-envelope subscription
// buffer under 128 MiB.
const DefaultMaxEnvelopeBytes = 128 << 10

// ErrEnvelopeTooLarge wraps Publish's error for an envelope larger than
// Limits.MaxEnvelopeBytes.
var ErrEnvelopeTooLarge = errors.New("serve: envelope too large")

// DepartedShards is the shard ID under which a Router's stats sum the
// counts of departed shard IDs (no open subscription) once more than
// Limits.MaxShards of them are kept: counters stay whole, while the
// number of series stays bounded.
const DepartedShards = "_departed"

// Causes of refused subscribe requests (the keys of RouterStats.Refused).
const (
	RefusedSelectors = "too_many_selectors"
	RefusedSourceIDs = "too_many_source_ids"
	RefusedShardID   = "shard_id_too_long"
	RefusedShards    = "too_many_shards"
)

var (
	// ErrRequestTooLarge wraps the error of a subscribe request beyond one
	// of the Router's Limits (selectors, source IDs, shard ID length).
	ErrRequestTooLarge = errors.New("serve: request too large")
	// ErrTooManyShards wraps the error of a subscribe request that would
	// open a shard group beyond Limits.MaxShards.
	ErrTooManyShards = errors.New("serve: too many shard groups")
)

// Limits bounds what subscribers may ask of a Router. A zero field takes
// its default (the Default* constants); a negative one is invalid.
type Limits struct {
	MaxSelectors  int // selectors in one request
	MaxSourceIDs  int // distinct source IDs in one request
	MaxShardIDLen int // bytes of a shard ID
	MaxShards     int // shard groups open at once
	// MaxEnvelopeBytes is the largest envelope Publish routes; larger ones
	// are refused and counted (dropped{direction=ingress,cause=too_large}).
	MaxEnvelopeBytes int
}

func (l Limits) withDefaults() (Limits, error) {
	for _, f := range []struct {
		v   *int
		def int
		n   string
	}{
		{&l.MaxSelectors, DefaultMaxSelectors, "max selectors"},
		{&l.MaxSourceIDs, DefaultMaxSourceIDs, "max source IDs"},
		{&l.MaxShardIDLen, DefaultMaxShardIDLen, "max shard ID length"},
		{&l.MaxShards, DefaultMaxShards, "max shards"},
		{&l.MaxEnvelopeBytes, DefaultMaxEnvelopeBytes, "max envelope bytes"},
	} {
		switch {
		case *f.v < 0:
			return l, fmt.Errorf("%w: %s %d, want at least 0", ErrInvalidConfig, f.n, *f.v)
		case *f.v == 0:
			*f.v = f.def
		}
	}
	return l, nil
}

// WithLimits sets the bounds on subscribe requests (see Limits; default:
// the Default* constants).
func WithLimits(l Limits) RouterOption {
	return routerOptionFunc(func(c *routerConfig) { c.limits = l })
}

// routerRefusal is a request refused by a limit, with the cause it is
// counted under.
type routerRefusal struct {
	cause string
	err   error
}

func (e *routerRefusal) Error() string { return e.err.Error() }
func (e *routerRefusal) Unwrap() error { return e.err }

// routerSelIndex is one subscription's selectors grouped by source ID. It
// is built once, when subscribing and before the router's lock is taken,
// in time linear in the number of selectors; under the lock, the router
// then only looks sets up by source ID.
type routerSelIndex struct {
	// sources maps each non-empty source ID of the selectors to the
	// selectors that apply to it: those naming it, then those naming no
	// source ID.
	sources map[string]routerSelSet
	// wild holds the selectors naming no source ID (empty sels: none).
	wild routerSelSet
}

// routerSelSet is the selectors of one subscription that apply to one
// source ID, with a canonical encoding of them, so that comparing two
// members' sets compares two strings.
type routerSelSet struct {
	sels []*envelope.Selector
	sig  string
}

// routerIndex checks sels against lim and groups them. It keeps the
// selector pointers: the caller gives it its own copies.
func routerIndex(sels []*envelope.Selector, lim Limits) (routerSelIndex, error) {
	if len(sels) > lim.MaxSelectors {
		return routerSelIndex{}, &routerRefusal{RefusedSelectors, fmt.Errorf("%w: %d selectors, at most %d", ErrRequestTooLarge, len(sels), lim.MaxSelectors)}
	}
	// Group selector positions by source ID (first pass: no encoding yet,
	// so a request with too many source IDs costs little).
	var wild []int
	byID := make(map[string][]int)
	var order []string
	for i, s := range sels {
		id := s.GetSourceId()
		if id == "" {
			wild = append(wild, i)
			continue
		}
		if _, ok := byID[id]; !ok {
			if len(order) == lim.MaxSourceIDs {
				return routerSelIndex{}, &routerRefusal{RefusedSourceIDs, fmt.Errorf("%w: more than %d distinct source IDs", ErrRequestTooLarge, lim.MaxSourceIDs)}
			}
			order = append(order, id)
		}
		byID[id] = append(byID[id], i)
	}
	enc := make([]string, len(sels))
	opts := proto.MarshalOptions{Deterministic: true}
	var buf []byte
	for i, s := range sels {
		b, err := opts.MarshalAppend(buf[:0], s)
		if err != nil {
			return routerSelIndex{}, fmt.Errorf("serve: subscribe: selector %d: %w", i, err)
		}
		buf = b
		enc[i] = string(binary.AppendUvarint(nil, uint64(len(b)))) + string(b)
	}
	set := func(idx []int, tail routerSelSet) routerSelSet {
		var sb strings.Builder
		out := routerSelSet{sels: make([]*envelope.Selector, 0, len(idx)+len(tail.sels))}
		for _, i := range idx {
			out.sels = append(out.sels, sels[i])
			sb.WriteString(enc[i])
		}
		out.sels = append(out.sels, tail.sels...)
		sb.WriteString(tail.sig)
		out.sig = sb.String()
		return out
	}
	ix := routerSelIndex{sources: make(map[string]routerSelSet, len(order))}
	if len(wild) > 0 {
		ix.wild = set(wild, routerSelSet{})
	}
	for _, id := range order {
		ix.sources[id] = set(byID[id], ix.wild)
	}
	return ix, nil
}

// routerRebuild recomputes g's entries in every bucket it is or was in.
// Called under Router.mu; its work is linear in the group's source IDs
// times its members (one map lookup each), never in selectors squared.
func (r *Router) routerRebuild(g *routerGroup) {
	keys := make(map[string]struct{})
	wild := false
	for _, m := range g.members {
		for k := range m.idx.sources {
			keys[k] = struct{}{}
		}
		if len(m.idx.wild.sels) > 0 {
			wild = true
		}
	}
	mixed := len(keys) > 0

	members := g.members
	det := len(members) > 0
	for _, m := range members {
		if m.detName == "" {
			det = false
		}
	}
	if det {
		// A member keeps its place while the set of names stays the same,
		// so a metric keeps landing on the member with the same name, even
		// across reconnects.
		members = slices.Clone(members)
		slices.SortStableFunc(members, func(a, b *routerSub) int {
			if c := strings.Compare(a.detName, b.detName); c != 0 {
				return c
			}
			return int(a.id - b.id)
		})
	}

	storeWild := func() {
		var e *routerEntry
		if wild {
			e = r.routerEntryFor(g, members, "", det, mixed)
		}
		r.wild.Store(routerBucketWith(r.wild.Load(), g, e))
	}
	storeSources := func() {
		t := r.table.Load()
		nt := t
		for k := range g.keys {
			if _, ok := keys[k]; !ok {
				nt = nt.set(k, routerBucketWith(nt.lookup(k), g, nil))
			}
		}
		for k := range keys {
			nt = nt.set(k, routerBucketWith(nt.lookup(k), g, r.routerEntryFor(g, members, k, det, false)))
		}
		if nt != t {
			r.table.Store(nt)
		}
	}
	// The wild entry must say "mixed" whenever a source bucket holds the
	// group, or a publish between the two stores could deliver twice.
	if mixed {
		storeWild()
		storeSources()
	} else {
		storeSources()
		storeWild()
	}
	g.keys = keys
}

// routerEntryFor builds g's entry for bucket key: the members with a
// selector for key, or (for a source ID) a selector for every source ID.
func (r *Router) routerEntryFor(g *routerGroup, members []*routerSub, key string, det, mixed bool) *routerEntry {
	e := &routerEntry{group: g, deterministic: det, mixed: mixed}
	sig := ""
	e.uniform = true
	for _, m := range members {
		r.rebuildSteps++
		set, ok := m.idx.sources[key]
		if !ok {
			set = m.idx.wild
		}
		if len(set.sels) == 0 {
			continue
		}
		if len(e.members) == 0 {
			sig = set.sig
		} else if set.sig != sig {
			e.uniform = false
		}
		e.members = append(e.members, routerCand{sub: m, sels: set.sels})
	}
	if len(e.members) == 0 {
		return nil
	}
	return e
}

// routerTrimFolded bounds the per-shard counts kept for shard IDs whose
// subscriptions have all left: beyond MaxShards of them, the departed ones
// are summed under DepartedShards, down to half the limit at once (so the
// work is amortized). Called under Router.mu; the one place departed
// shard state is freed.
func (r *Router) routerTrimFolded() {
	max := r.cfg.limits.MaxShards
	if len(r.folded) <= max+1 {
		return
	}
	d := r.folded[DepartedShards]
	for id, f := range r.folded {
		if len(r.folded) <= max/2+1 {
			break
		}
		if _, open := r.groups[id]; open || id == DepartedShards || id == "" {
			continue
		}
		d.Egress += f.Egress
		for c, n := range f.Dropped {
			d.Dropped.Add(c, n)
		}
		delete(r.folded, id)
	}
	r.folded[DepartedShards] = d
}
