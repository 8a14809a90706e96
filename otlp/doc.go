// Package otlp exports envelopes to OpenTelemetry: Batch maps them to OTLP
// logs and metrics (see Batch.Add for the mapping), and Exporter sends
// them to an OTLP/gRPC receiver, such as an OpenTelemetry Collector, with
// a bounded queue, batching and retries.
//
// It is its own Go module (github.com/sluicelog/sluice/otlp), so that
// programs built on sluice's core packages do not compile the
// OpenTelemetry Collector's data packages unless they import this one.
//
// # Resources
//
// Each (source ID, instance ID) pair becomes one resource with
// service.name = source ID and service.instance.id = instance ID (left
// out when empty); tags become attributes of each record or data point.
//
// # Accounting
//
// Emit and Publish never block: a full queue (WithQueueSize) refuses the
// new envelope and counts it. One goroutine exports batches (WithBatch)
// and retries failed calls with backoff (WithRetry); a call refused as
// permanent (InvalidArgument, Unimplemented, PermissionDenied,
// Unauthenticated) is not retried. Once the Exporter has closed,
// Stats.Queued == Exported + Empty + Dropped.Total() exactly.
package otlp
