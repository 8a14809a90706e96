package discovery_test

import (
	"context"
	"testing"

	"github.com/sluicelog/sluice/discovery/discoverytest"
)

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
