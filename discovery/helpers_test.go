package discovery_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicelog/sluice/discovery/discoverytest"
)

// hang bounds every wait: long enough that only a hang reaches it on a
// loaded machine.
const hang = 30 * time.Second

var (
	keys     = discoverytest.Keys
	next     = discoverytest.Next
	waitKeys = discoverytest.WaitKeys
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}
