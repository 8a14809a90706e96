package main

import (
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parseTuning(t *testing.T, args ...string) tuning {
	t.Helper()
	var tu tuning
	fs := flag.NewFlagSet("router", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	tu.Flags(fs)
	require.NoError(t, fs.Parse(args))
	return tu
}

// The router's defaults: a 128 KiB write buffer shared between writes
// and Egress batches of 250 (two server options, one Egress option); zero
// values give back grpc-go's and the library's defaults (none).
func TestTuningDefaults(t *testing.T) {
	tu := parseTuning(t)
	assert.Equal(t, 128<<10, tu.writeBuf)
	assert.True(t, tu.sharedWriteBuf)
	assert.Equal(t, 250, tu.egressBatch)
	assert.Len(t, tu.ServerOptions(), 2)
	assert.Len(t, tu.EgressOptions(), 1)

	tu = parseTuning(t, "-grpc-write-buffer", "0", "-grpc-shared-write-buffer=false", "-egress-batch", "0")
	assert.Empty(t, tu.ServerOptions())
	assert.Empty(t, tu.EgressOptions())
}
