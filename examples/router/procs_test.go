package main

import (
	"flag"
	"io"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProcsFlag(t *testing.T) {
	was := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(was) })
	parse := func(args ...string) (int, error) {
		fs := flag.NewFlagSet("router", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var p procsFlag
		p.Flags(fs)
		require.NoError(t, fs.Parse(args))
		return p.Apply()
	}
	n, err := parse()
	require.NoError(t, err)
	assert.Equal(t, was, n, "0 keeps Go's default")
	n, err = parse("-procs", "1")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, 1, runtime.GOMAXPROCS(0))
	_, err = parse("-procs", "-1")
	assert.Error(t, err)
}
