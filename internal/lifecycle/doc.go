// Package lifecycle runs the one background goroutine of a component and
// stops it the way every sluice component stops: Stop(ctx) waits at most
// until ctx ends, Close waits for the goroutine, runs a final step once and
// may be called any number of times.
package lifecycle
