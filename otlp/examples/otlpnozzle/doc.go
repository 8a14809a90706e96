// Command otlpnozzle is a nozzle that exports what it reads to
// OpenTelemetry: it subscribes to a sluice router or proxy (or
// Loggregator's reverse log proxy) and sends every envelope to an OTLP/gRPC
// receiver, such as an OpenTelemetry Collector, as logs and metrics (the
// mapping of package otlp). It lives in the otlp module because sluice's
// core module, the demo included, does not compile the Collector's
// packages.
//
//	go run ./examples/otlpnozzle -addr 127.0.0.1:8084 -otlp-endpoint 127.0.0.1:4317 -duration 30s
//
// (run from the otlp directory). It writes a JSON summary as its last line:
// read, and the exporter's queued, exported, empty and dropped by cause;
// read == queued, and queued == exported + empty + dropped.
package main
