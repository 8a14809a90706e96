// Package drain delivers each source's envelopes to the syslog drains its
// owner bound to it, the shared-nothing path of Cloud Foundry's syslog
// agent: RFC 5424 messages (package rfc5424) over syslog-tls://,
// syslog:// (TCP, RFC 6587 octet counting) or https:// (batched POSTs).
//
// # Drains
//
// A Manager holds one drain per binding (source ID, URL, hostname). Each
// drain has its own buffer (a many-to-one diode, WithBufferSize), its own
// goroutine and its own connection, reconnecting with exponential backoff
// and jitter. Publish never blocks and never waits for a drain: a slow or
// dead drain overwrites its own oldest envelopes and costs the others
// nothing. A drain writes what has gathered in its buffer in one write (up
// to 64 KiB); an HTTPS drain posts when its batch reaches WithHTTPSBatch's
// size or age. A failed write is retried on a new connection
// (WithRetry), then the batch is dropped.
//
// What a drain gets follows Loggregator's URL parameters: without any,
// logs and events; drain-type=logs only logs, metrics counters and gauges,
// all logs, counters and gauges; drain-data=logs|metrics|traces|all (it
// wins over drain-type; traces are timers); include-metrics-deprecated
// (any value) everything.
//
// # Bindings
//
// Bindings come from SetBindings, or from a Source polled every
// interval (WithSource): a FileSource (a text file re-read each time, so
// edits apply) or a SourceFunc. Applying bindings starts new drains,
// closes removed ones and leaves the others running. A binding that does
// not parse is refused with an error wrapping ErrInvalidBinding; one over
// WithMaxDrainsPerSource (default 5, the first URLs in order kept) or
// WithMaxConnections (default 1,000, running drains kept first) with one
// wrapping ErrTooManyDrains. Refusals are logged and counted by cause in
// ManagerStats.Refused. A source that fails keeps the bindings last known.
//
// # Loss is counted and told
//
// Every drop is counted per drain and cause (Stats.Dropped: buffer, write,
// format, closed), and once a drain has closed Written == Sent +
// Dropped.Total() exactly. At most once per WithLossReports interval per
// drain, the drain's owner gets a log line in their own stream: "N
// envelopes dropped for drain URL" (source_type LGR, stderr), into the
// Manager itself by default (so the owner's other drains carry it) or to
// an Emitter such as an ingress.Client.
//
// Syslog over TCP has no acknowledgement. A receiver that stops
// gracefully (TCP FIN or TLS close_notify, then reading until the client
// closes, as draintest.Server.Stop does) loses nothing: a drain watches
// its connection and reconnects when the receiver half-closes. A receiver
// that cuts its connections may lose what its kernel had accepted, and a
// batch whose write failed midway is written again in full on a new
// connection, so such a receiver may see a message twice.
//
// # Lifecycle
//
// Shutdown(ctx) stops taking envelopes and lets every drain deliver what
// it holds; Close stops at once. Both wait for every goroutine, and after
// them Publish returns ErrClosed.
package drain
