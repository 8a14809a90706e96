package examples_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/ingress"
)

// The router program with -limits: envelopes over a source's limit are
// counted dropped{cause="rate_limited"} at its ingress_buffer,
// /debug/noisy names the source that lost them, the heavy-hitter series
// name it, and SIGHUP reloads the limits file.
func TestRouterProgramLimitsAndDebugNoisy(t *testing.T) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	require.NoError(t, err)
	bin := t.TempDir()
	build := exec.Command("go", "build", "-ldflags=-s -w", "-o", bin+string(filepath.Separator), "./examples/router")
	build.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	limits := filepath.Join(t.TempDir(), "limits")
	require.NoError(t, os.WriteFile(limits, []byte("# test\nnoisy 0.001/s burst 10\n"), 0o600))
	router := startProgram(t, bin, "router", "-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0", "-limits", limits, "-log-level", "info")

	send := func(id string, n int) {
		c, err := ingress.NewClient(router.addr)
		require.NoError(t, err)
		b, err := proto.Marshal(envelope.NewLog(id, []byte("x")))
		require.NoError(t, err)
		for range n {
			c.EmitBytes(b)
		}
		require.NoError(t, c.Shutdown(t.Context()))
		require.Equal(t, uint64(n), c.Stats().Confirmed)
	}
	rateLimited := func() float64 {
		return router.metric(t, "dropped", "component", "ingress_buffer", "cause", "rate_limited")
	}
	send("noisy", 100)
	send("quiet", 5)
	require.Eventually(t, func() bool { return router.metric(t, "ingress", "component", "ingress_server") == 105 }, 20*time.Second, 20*time.Millisecond)
	assert.Equal(t, float64(90), rateLimited(), "a burst of 10, then nothing")
	assert.Equal(t, float64(90), router.metric(t, "heavy_hitter_dropped", "component", "ingress_buffer", "rank", "1", "source", "noisy"))
	assert.Equal(t, float64(100), router.metric(t, "heavy_hitter_sent", "rank", "1", "source", "noisy"))

	resp, err := http.Get(strings.TrimSuffix(router.metricsURL, "/metrics") + "/debug/noisy")
	require.NoError(t, err)
	var doc struct {
		Policy  string `json:"policy"`
		Dropped []struct {
			SourceID string `json:"source_id"`
			Count    uint64 `json:"count"`
		} `json:"dropped"`
		Limiter struct {
			RateLimited uint64 `json:"rate_limited"`
		} `json:"limiter"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, "fair", doc.Policy, "the router's default policy")
	require.NotEmpty(t, doc.Dropped)
	assert.Equal(t, "noisy", doc.Dropped[0].SourceID)
	assert.Equal(t, uint64(90), doc.Dropped[0].Count)
	assert.Equal(t, uint64(90), doc.Limiter.RateLimited)

	// Lift the limit and reload on SIGHUP: nothing more is rate limited.
	require.NoError(t, os.WriteFile(limits, []byte("noisy unlimited\n"), 0o600))
	require.NoError(t, router.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(router.stderr.String(), "limits reloaded") }, 20*time.Second, 20*time.Millisecond)
	send("noisy", 50)
	require.Eventually(t, func() bool { return router.metric(t, "ingress", "component", "ingress_server") == 155 }, 20*time.Second, 20*time.Millisecond)
	assert.Equal(t, float64(90), rateLimited())
	router.stop(t)
}
