package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sluicelog/sluice/drain/draintest"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/internal/testtls"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type ledger struct {
	Ingress, IngressDropped, Published, Malformed, Unbound, LossReports uint64
	Total                                                               drainLedger
	Drains                                                              map[string]drainLedger
	Refused                                                             map[string]uint64 `json:"refused_bindings"`
	Balanced                                                            bool
}

type drainLedger struct {
	Written, Sent, Messages uint64
	Dropped                 map[string]uint64
}

func (l *ledger) UnmarshalJSON(b []byte) error {
	type plain ledger
	var aux struct {
		plain
		IngressDropped uint64 `json:"ingress_dropped"`
		LossReports    uint64 `json:"loss_reports"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*l = ledger(aux.plain)
	l.IngressDropped, l.LossReports = aux.IngressDropped, aux.LossReports
	return nil
}

// The syslog agent as a process: envelopes sent to its Ingress server
// reach the healthy TLS drain whole while another drain of the same
// source is dead; the owner's stream shows the dead drain's loss; an edit
// of the bindings file adds a drain while it runs; SIGTERM ends it with a
// ledger that balances and agrees with what the receivers got.
func TestSyslogAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the program")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "syslogagent")
	out, err := exec.Command("go", "build", "-ldflags=-s -w", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	ca, err := testtls.NewCA("syslogagent-test")
	require.NoError(t, err)
	serverTLS, err := ca.ServerConfig(false)
	require.NoError(t, err)
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFile, ca.PEM(), 0o600))

	healthy := draintest.NewServer(serverTLS)
	require.NoError(t, healthy.Start("127.0.0.1:0"))
	defer healthy.Kill()
	later := draintest.NewServer(nil)
	require.NoError(t, later.Start("127.0.0.1:0"))
	defer later.Kill()
	dead := draintest.NewServer(nil)
	require.NoError(t, dead.Start("127.0.0.1:0"))
	dead.Kill() // nobody listens there

	bindings := filepath.Join(dir, "bindings.txt")
	write := func(lines ...string) {
		tmp := bindings + ".tmp"
		require.NoError(t, os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
		require.NoError(t, os.Rename(tmp, bindings))
	}
	base := []string{"# source drain [hostname]", "app " + healthy.URL(), "app " + dead.URL(), "broken"}
	write(base...)

	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0", "-bindings", bindings,
		"-bindings-refresh", "50ms", "-drain-tls-ca", caFile, "-drain-buffer", "2000", "-shutdown-timeout", "2s", "-loss-reports", "100ms", "-hostname", "cell-1")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	r := bufio.NewReader(stdout)
	first, err := r.ReadString('\n')
	require.NoError(t, err)
	f := strings.Fields(first)
	require.Len(t, f, 2, first)
	addr, metricsURL := f[0], strings.TrimPrefix(f[1], "metrics=")

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c, err := ingress.NewClient(addr)
	require.NoError(t, err)
	const n = 1000
	for i := range n {
		c.Emit(envelope.NewLog("app", []byte("data "+strconv.Itoa(i)), envelope.WithInstanceID("0"), envelope.WithTag("source_type", "APP/PROC/WEB")))
		c.Emit(envelope.NewLog("nobody", []byte("x")))
		if i%100 == 99 {
			time.Sleep(10 * time.Millisecond) // a steady rate, about 10,000/s
		}
	}
	require.NoError(t, c.Shutdown(ctx))
	require.Equal(t, uint64(2*n), c.Stats().Confirmed)

	t.Log("sent")
	isReport := func(m draintest.Message) bool {
		return strings.HasSuffix(string(m.Msg), " envelopes dropped for drain "+dead.URL()+"\n")
	}
	require.Eventually(t, func() bool {
		for _, m := range healthy.Messages() {
			if isReport(m) {
				return true
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond, "the owner's stream shows the dead drain's loss")
	require.NoError(t, healthy.Wait(ctx, n))

	t.Log("editing bindings")
	// An edit of the bindings file applies while the agent runs.
	write(append(base, "other "+later.URL())...)
	c2, err := ingress.NewClient(addr)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		c2.Emit(envelope.NewLog("other", []byte("probe")))
		return len(later.Messages()) > 0
	}, 20*time.Second, 50*time.Millisecond, "the new binding delivers")
	require.NoError(t, c2.Shutdown(ctx))
	probes := c2.Stats().Confirmed

	body := metrics(t, metricsURL)
	assert.Contains(t, body, `drains{component="drains",job="syslogagent"} 3`)

	t.Log("stopping")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	kill := time.AfterFunc(time.Minute, func() { _ = cmd.Process.Kill() })
	defer kill.Stop()
	rest, err := io.ReadAll(r)
	require.NoError(t, err)
	require.NoError(t, cmd.Wait())
	lines := strings.Split(strings.TrimSpace(string(rest)), "\n")
	var l ledger
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &l), "%s", rest)
	t.Logf("ledger: %s", lines[len(lines)-1])

	assert.True(t, l.Balanced)
	assert.Equal(t, uint64(2*n)+probes, l.Ingress)
	assert.Zero(t, l.IngressDropped)
	assert.Equal(t, l.Ingress, l.Published)
	unboundProbes := l.Unbound - n // probes sent before the agent read the edited file
	assert.Equal(t, map[string]uint64{"invalid": 1}, l.Refused)

	h := l.Drains["app "+healthy.URL()]
	d := l.Drains["app "+dead.URL()]
	o := l.Drains["other "+later.URL()]
	require.NoError(t, healthy.Wait(ctx, int(h.Sent)))
	require.NoError(t, later.Wait(ctx, int(o.Sent)))
	data, reports := 0, 0
	for _, m := range healthy.Messages() {
		switch {
		case isReport(m):
			reports++
			assert.Equal(t, "[LGR]", m.ProcID)
		case strings.HasPrefix(string(m.Msg), "data "):
			assert.Equal(t, fmt.Sprintf("data %d\n", data), string(m.Msg), "in order")
			assert.Equal(t, "cell-1", m.Hostname)
			assert.Equal(t, "[APP/PROC/WEB/0]", m.ProcID)
			data++
		}
	}
	assert.Equal(t, n, data, "the healthy drain got every envelope")
	assert.Equal(t, drainLedger{Written: uint64(n + reports), Sent: uint64(n + reports), Messages: uint64(n + reports), Dropped: map[string]uint64{}}, h)
	assert.Zero(t, d.Sent)
	assert.Equal(t, uint64(n+reports), d.Written, "the dead drain was handed the same envelopes")
	assert.Equal(t, probes-unboundProbes, o.Sent)
	assert.Equal(t, uint64(len(later.Messages())), o.Sent)
	assert.Equal(t, uint64(len(healthy.Messages())), h.Sent)
	assert.Equal(t, uint64(reports), l.LossReports, "every report went to the healthy drain")
}

func metrics(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
