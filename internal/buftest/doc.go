// Package buftest holds test helpers for sluice's buffers (anything with
// a TryNext method: diodes, limit's Limiter and Buffer), shared by the
// tests of the packages that feed or wrap them.
package buftest
