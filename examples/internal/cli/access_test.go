package cli

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/egress/authz"
)

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8082": true, "[::1]:0": true, "localhost:80": true,
		":8082": false, "0.0.0.0:1": false, "10.0.0.7:8082": false, "example.com:1": false,
	} {
		assert.Equal(t, want, authz.Loopback(addr), addr)
	}
}

func TestAccessOpenOnlyOnLoopback(t *testing.T) {
	parse := func(args ...string) *Access {
		var a Access
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		a.Flags(fs)
		require.NoError(t, fs.Parse(args))
		return &a
	}
	log := slog.New(slog.DiscardHandler)
	_, stop, err := parse().Authorizer(log, "127.0.0.1:0", "")
	require.NoError(t, err)
	stop()
	_, stop, err = parse().Authorizer(log, "127.0.0.1:0", ":8083")
	require.EqualError(t, err, "egress on :8083 is beyond loopback and no -authz-policy or -authz-introspect says who may read it; set -authz-open to let everyone read everything")
	stop()
	_, stop, err = parse("-authz-open").Authorizer(log, "0.0.0.0:8082")
	require.NoError(t, err)
	stop()
}

// TestAccessPolicyReloadsOnSIGHUP: the policy file is read again when the
// process gets SIGHUP.
func TestAccessPolicyReloadsOnSIGHUP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"grants":[{"tokens":["t"],"source_ids":["a"]}]}`), 0o600))
	a := Access{Policy: path}
	az, stop, err := a.Authorizer(slog.New(slog.DiscardHandler), "0.0.0.0:1")
	require.NoError(t, err)
	defer stop()
	ctx := context.Background()
	req := authz.Request{SourceIDs: []string{"b"}}
	require.ErrorIs(t, az.Authorize(ctx, authz.Identity{Token: "t"}, req), authz.ErrDenied)
	require.NoError(t, os.WriteFile(path, []byte(`{"grants":[{"tokens":["t"],"source_ids":["a","b"]}]}`), 0o600))
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	require.Eventually(t, func() bool { return az.Authorize(ctx, authz.Identity{Token: "t"}, req) == nil }, 10*time.Second, time.Millisecond)
}
