package nozzle

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by Next, TryNext's callers and the constructors'
	// products after Close or Shutdown (once what Shutdown let the consumer
	// drain is gone).
	ErrClosed = errors.New("nozzle: closed")

	// ErrSlowConsumer is the condition a *SlowConsumerError reports:
	// errors.Is(err, ErrSlowConsumer) holds for it.
	ErrSlowConsumer = errors.New("nozzle: slow consumer, envelopes dropped")

	// ErrInvalidConfig wraps every constructor error caused by bad arguments
	// (empty address, nil request, bad selectors, bad URL).
	ErrInvalidConfig = errors.New("nozzle: invalid configuration")

	// errStreamEnded is recorded when a server ends a stream without an
	// error (for example a router shutting down gracefully).
	errStreamEnded = errors.New("nozzle: stream ended by server")
)

// SlowConsumerError reports the start of a slow-consumer episode: the
// consumer fell behind the stream, the buffer filled and envelopes were
// dropped (counted in Stats.Dropped). It is reported once per episode; the
// episode ends when the consumer catches up (finds the buffer empty), and a
// later drop starts the next one.
type SlowConsumerError struct {
	// Dropped is how many envelopes the episode had dropped when it was
	// reported; later drops of the same episode are only counted in Stats.
	Dropped uint64
	// Episode numbers the episodes of one consumer from 1
	// (Stats.SlowConsumerEpisodes is the latest).
	Episode uint64
}

// Error implements error.
func (e *SlowConsumerError) Error() string {
	return fmt.Sprintf("nozzle: slow consumer, %d envelopes dropped (episode %d)", e.Dropped, e.Episode)
}

// Is makes errors.Is(err, ErrSlowConsumer) true.
func (e *SlowConsumerError) Is(target error) bool { return target == ErrSlowConsumer }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
}
