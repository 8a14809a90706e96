package drain

// Stats counts one drain's envelopes. Once the drain has closed,
//
//	Written == Sent + Dropped.Total()
//
// exactly. Sent means written to the connection (syslog) or answered 2xx
// (HTTPS): syslog over TCP has no acknowledgement, so a receiver that cuts
// the connection may lose what its kernel had already accepted; one that
// closes gracefully loses nothing (see the package documentation).
type Stats struct {
	SourceID string
	// URL is the drain's URL with any password redacted.
	URL string
	// Written counts envelopes handed to the drain.
	Written uint64
	// Sent counts envelopes delivered; Messages the syslog messages they
	// became (a gauge with three metrics is three).
	Sent, Messages uint64
	// Writes counts successful writes (syslog) or POSTs (HTTPS), each
	// carrying a batch; Failures the failed ones; Dials new connections.
	Writes, Failures, Dials uint64
	// Connected reports an open connection (a snapshot; always false in
	// sums).
	Connected bool
	Dropped   Drops
}

// Drops counts a drain's lost envelopes by cause.
type Drops struct {
	// Buffer: overwritten in the drain's buffer while it was behind
	// (counter dropped{direction=egress}).
	Buffer uint64
	// Write: in a batch that failed every attempt.
	Write uint64
	// Format: could not become RFC 5424 (see rfc5424.ErrUnformattable).
	Format uint64
	// Closed: still held when the drain closed (Close, Shutdown running out
	// of time, or its binding removed), or handed to it after.
	Closed uint64
}

// Total sums the causes.
func (d Drops) Total() uint64 { return d.Buffer + d.Write + d.Format + d.Closed }

func (s Stats) add(o Stats) Stats {
	s.Written += o.Written
	s.Sent += o.Sent
	s.Messages += o.Messages
	s.Writes += o.Writes
	s.Failures += o.Failures
	s.Dials += o.Dials
	s.Dropped.Buffer += o.Dropped.Buffer
	s.Dropped.Write += o.Dropped.Write
	s.Dropped.Format += o.Dropped.Format
	s.Dropped.Closed += o.Dropped.Closed
	return s
}

// ManagerStats is a snapshot of a Manager's counters.
type ManagerStats struct {
	// Ingress counts envelopes published (counter ingress).
	Ingress uint64
	// Unbound counts envelopes whose source has no drain; Filtered those
	// whose source's drains do not want their kind; Malformed refused
	// wire bytes.
	Unbound, Filtered, Malformed uint64
	// Drains holds the running drains, keyed by "source-id url" (the URL
	// redacted), with " hostname" added when the binding names one.
	Drains map[string]Stats
	// Total sums every drain the Manager ran, removed ones included.
	Total Stats
	// Refused counts refused bindings by cause: "invalid",
	// "per_source_cap", "connection_cap". A binding is counted once while
	// it stays refused.
	Refused map[string]uint64
	// SourceErrors counts failed reads of the binding source.
	SourceErrors uint64
	// LossReports counts "envelopes dropped" messages sent to owners. When
	// they go into the Manager itself (no Emitter) they are counted in
	// Ingress too.
	LossReports uint64
}

// Stats returns a snapshot.
func (m *Manager) Stats() ManagerStats {
	st := ManagerStats{
		Ingress:      m.ingress.Load(),
		Unbound:      m.unbound.Load(),
		Filtered:     m.filtered.Load(),
		Malformed:    m.malformed.Load(),
		SourceErrors: m.sourceErrors.Load(),
		LossReports:  m.reports.Load(),
		Refused:      make(map[string]uint64),
	}
	m.refusals.Range(func(k, v any) bool {
		st.Refused[k.(string)] = v.(interface{ Load() uint64 }).Load()
		return true
	})
	m.mu.Lock()
	defer m.mu.Unlock()
	st.Drains = make(map[string]Stats, len(m.sinks))
	st.Total = m.retired
	for _, s := range m.sinks {
		ds := s.stats()
		st.Drains[s.t.id()] = ds
		st.Total = st.Total.add(ds)
	}
	return st
}
