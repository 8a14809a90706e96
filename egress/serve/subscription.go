package serve

import (
	"context"
	"errors"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/batch"
	"github.com/sluicelog/sluice/stats"
)

var (
	// ErrInvalidConfig wraps every invalid argument or option given to
	// NewRouter, NewServer and NewGateway.
	ErrInvalidConfig = errors.New("serve: invalid configuration")
	// ErrSubscriptionClosed is returned by Subscription.Next once the
	// subscription has been closed (by Close, by the end of the context it
	// was made with, or by its Router closing).
	ErrSubscriptionClosed = errors.New("serve: subscription closed")
)

// Causes of the drops a Router, Server or Gateway counts (the keys of their
// Stats' Dropped).
const (
	// CauseOverflow: a subscription's buffer overflowed (its subscriber
	// fell behind).
	CauseOverflow = stats.CauseOverflow
	// CauseClosed: a subscription still held the envelope when it closed.
	CauseClosed = stats.CauseClosed
	// CauseNoSubscriber: a shard group's buffer still held the envelope
	// when the group's grace period ended with no member back
	// (WithGroupGrace).
	CauseNoSubscriber = "no_subscriber"
	// CauseStreamBroken: a Server read the envelope from a subscription but
	// could not send it because the gRPC stream broke.
	CauseStreamBroken = "stream_broken"
	// CauseClientGone: a Gateway read the envelope from a subscription but
	// could not write it because the HTTP client went away.
	CauseClientGone = "client_gone"
	// CauseMalformed: a Gateway could not decode the envelope to write it
	// as JSON.
	CauseMalformed = stats.CauseMalformed
)

// Subscription is one subscriber's stream of envelope wire bytes. A Router
// hands them out; so may anything else that feeds a Server or a Gateway (a
// proxy feeds them from a nozzle's firehose).
//
// Next and TryNext are called from one goroutine at a time; Close may be
// called from any goroutine, any number of times.
//
// Subscription is an alias of an interface literal, and nozzle.Subscription
// is an alias of the same literal: the two are one type, so that a function
// made by nozzle.FirehoseSubscriber converts to a SubscriberFunc directly
// (nozzle does not import egress).
type Subscription = interface {
	// Next returns the next envelope, waiting while there is none. It
	// returns ctx.Err() when ctx ends, and an error (ErrSubscriptionClosed
	// for a Router's subscriptions) once the subscription is closed.
	Next(ctx context.Context) ([]byte, error)
	// TryNext returns the next envelope, or false at once when there is none
	// or the subscription is closed.
	TryNext() ([]byte, bool)
	// Close leaves the group at once. What the subscription still held is
	// discarded (and counted by whoever held it).
	Close() error
}

// Subscriber hands out subscriptions for egress requests. The context
// scopes the subscription: when it ends, the subscription is closed.
type Subscriber interface {
	Subscribe(ctx context.Context, req *envelope.EgressBatchRequest) (Subscription, error)
}

// SubscriberFunc adapts a function to a Subscriber.
type SubscriberFunc func(ctx context.Context, req *envelope.EgressBatchRequest) (Subscription, error)

// Subscribe calls f(ctx, req).
func (f SubscriberFunc) Subscribe(ctx context.Context, req *envelope.EgressBatchRequest) (Subscription, error) {
	return f(ctx, req)
}

var (
	_ Subscriber               = SubscriberFunc(nil)
	_ Subscriber               = (*Router)(nil)
	_ batch.Reader[[]byte]     = (Subscription)(nil)
	_ Subscription             = (*routerSub)(nil)
	_ batch.BulkReader[[]byte] = (*routerSub)(nil)
)

// subBatchRequest converts an EgressRequest (Receiver) to the batch form:
// the two messages have the same fields.
func subBatchRequest(r *envelope.EgressRequest) *envelope.EgressBatchRequest {
	return &envelope.EgressBatchRequest{
		ShardId:           r.GetShardId(),
		LegacySelector:    r.GetLegacySelector(),
		UsePreferredTags:  r.GetUsePreferredTags(),
		Selectors:         r.GetSelectors(),
		DeterministicName: r.GetDeterministicName(),
	}
}
