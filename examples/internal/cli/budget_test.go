package cli

import (
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"512MiB": 512 << 20, "512M": 512 << 20, "1GiB": 1 << 30, "2G": 2 << 30, "64KiB": 64 << 10,
		"100": 100, "100B": 100, " 3 MiB ": 3 << 20, "0": 0,
	} {
		got, err := ParseBytes(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "MiB", "-1MiB", "1.5GiB", "12XB", "99999999999GiB"} {
		_, err := ParseBytes(in)
		assert.Error(t, err, in)
	}
	assert.Equal(t, "512MiB", FormatBytes(512<<20))
	assert.Equal(t, "1GiB", FormatBytes(1<<30))
	assert.Equal(t, "1000", FormatBytes(1000))
}

func TestMemoryBudgetFlag(t *testing.T) {
	var m MemoryBudget
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	m.Flags(fs, 512<<20, "test")
	assert.Equal(t, int64(512<<20), m.Bytes)
	require.NoError(t, fs.Parse([]string{"-memory-budget", "64MiB"}))
	assert.Equal(t, int64(64<<20), m.Bytes)
	assert.Equal(t, int64(16<<20), m.Share(1, 4))
	assert.Error(t, fs.Parse([]string{"-memory-budget", "1MiB"}), "below the floor")
}
