// Package backoff computes exponential reconnect delays with jitter, shared by
// every sluice component that retries (clients, pools, readers, discovery).
package backoff
