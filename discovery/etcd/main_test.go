package etcd_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/sluicelog/sluice/discovery/discoverytest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	waitKeys = discoverytest.WaitKeys
	next     = discoverytest.Next
)
