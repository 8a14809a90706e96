package serve

import "github.com/sluicelog/sluice/internal/wire"

// DefaultMaxBatchBytes bounds one BatchedReceiver message (WithMaxBatchBytes):
// a quarter of the 4 MiB a gRPC client receives by default, so that a
// batch of large envelopes still reaches a client with default settings.
const DefaultMaxBatchBytes = 1 << 20

// WithMaxBatchBytes bounds the size of one BatchedReceiver message to n
// bytes (default DefaultMaxBatchBytes): a batch whose envelopes take more
// is sent as several messages, each as large as fits (an envelope larger
// than n alone). gRPC clients refuse messages larger than their receive
// limit (4 MiB by default) and end the stream; a batch of 100 envelopes of
// up to the Router's 128 KiB each could exceed it.
func WithMaxBatchBytes(n int) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.maxBatchBytes = n })
}

// leadingFit returns how many of envs, from the first, fit in one batch
// message of at most max bytes: at least one.
func leadingFit(envs [][]byte, max int) int {
	size := 0
	for i, e := range envs {
		size += wire.FramedSize(len(e))
		if size > max && i > 0 {
			return i
		}
	}
	return len(envs)
}
