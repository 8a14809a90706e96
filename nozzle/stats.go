package nozzle

import (
	"sync"
	"time"

	"github.com/sluicelog/sluice/stats"
)

// Causes of the drops a consumer counts (Stats.Dropped).
const (
	// CauseOverflow: the buffer was full (a slow consumer).
	CauseOverflow = stats.CauseOverflow
	// CauseShutdown: still buffered when the consumer was closed.
	CauseShutdown = stats.CauseShutdown
)

// Stats is a snapshot of a consumer's counters. Once the streams have
// stopped (Close or Shutdown):
//
//	Received == Delivered + Dropped.Total()
//
// and while they run, Received == Delivered + Dropped.Total() + Buffered (up
// to the envelopes of the batch being handed over at that moment).
type Stats struct {
	// Received counts envelopes that arrived in well-formed batches
	// (telemetry: counter "ingress" of the nozzle).
	Received uint64
	// Delivered counts envelopes handed to the consumer by Next, TryNext or
	// the iterator (telemetry: counter "egress").
	Delivered uint64
	// Dropped counts envelopes the consumer never got, by cause
	// (telemetry: counter "dropped", direction=egress, with the shard ID):
	// CauseOverflow, refused because the buffer was full (the consumer was
	// too slow), and CauseShutdown, still buffered when Close, or
	// Shutdown's deadline, ended the consumer.
	Dropped stats.Drops
	// Buffered is how many envelopes wait for the consumer now.
	Buffered int
	// Malformed counts batches dropped because they did not parse (their
	// envelopes are not in Received).
	Malformed uint64
	// Reconnects counts streams re-opened after one failed or ended.
	Reconnects uint64
	// Connected is how many streams are open now (telemetry: gauge
	// "doppler_connections" for a Firehose).
	Connected int
	// SlowConsumerEpisodes counts slow-consumer episodes (telemetry:
	// "slow_consumer").
	SlowConsumerEpisodes uint64
	// LastError is the most recent stream error of any stream, and
	// LastErrorAt when it happened.
	LastError   error
	LastErrorAt time.Time
	// TLSFailures counts failed TLS handshakes with routers (for a
	// GatewayReader, with the gateway) by cause (telemetry: counter
	// "tls_handshake_failures" with the cause): not_tls, no_certificate,
	// bad_certificate, peer_rejected, timeout, closed, other, and
	// plaintext_to_tls (a router that speaks TLS, dialed in plaintext; not
	// for a GatewayReader, whose plaintext request gets the server's 400);
	// nil when none failed. The first failure with a router is also logged
	// at warn, once until a handshake with it succeeds, in plain words ("TLS
	// handshake with router X failed: it presented a certificate not signed
	// by our CA"). A GatewayReader given WithHTTPClient does not count them:
	// the handshakes are its client's.
	TLSFailures map[string]uint64
	// Streams has one entry per stream: one for a Reader or GatewayReader,
	// one per router a Firehose subscribes to now, in address order.
	Streams []StreamStats
}

// StreamStats is a snapshot of one stream's counters.
type StreamStats struct {
	// Key is the endpoint's identity (discovery.Endpoint.Key) for a
	// Firehose, the address or URL otherwise.
	Key  string
	Addr string
	// Connected reports whether the stream is open now.
	Connected bool
	// Received counts envelopes of well-formed batches from this stream.
	Received uint64
	// Batches counts well-formed batches; Malformed the others.
	Batches   uint64
	Malformed uint64
	// Reconnects counts re-opened streams.
	Reconnects uint64
	// Heartbeats counts a GatewayReader's heartbeat events and Closings its
	// closing events (always 0 for gRPC streams).
	Heartbeats uint64
	Closings   uint64
	// LastError is the stream's most recent error and LastErrorAt its time.
	LastError   error
	LastErrorAt time.Time
}

// errRecord keeps a last error and its time.
type errRecord struct {
	mu  sync.Mutex
	err error
	at  time.Time
}

func (r *errRecord) set(err error) {
	r.mu.Lock()
	r.err, r.at = err, time.Now()
	r.mu.Unlock()
}

func (r *errRecord) get() (error, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err, r.at
}
