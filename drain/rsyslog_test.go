package drain_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/drain"
	"github.com/sluicelog/sluice/envelope"
)

// A second receiver: rsyslogd itself, where installed (Debian: apt-get
// install rsyslog). It parses the octet-counted RFC 5424 stream and
// writes the fields it found, one line per message.
func TestRsyslog(t *testing.T) {
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		t.Skip("rsyslogd not installed")
	}
	dir := t.TempDir()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := lis.Addr().(*net.TCPAddr).Port
	require.NoError(t, lis.Close())
	out := filepath.Join(dir, "out.log")
	conf := fmt.Sprintf(`global(workDirectory=%q)
module(load="imtcp")
template(name="fields" type="string" string="%%pri%%|%%timereported:::date-rfc3339%%|%%hostname%%|%%app-name%%|%%procid%%|%%msgid%%|%%structured-data%%|%%msg%%\n")
input(type="imtcp" address="127.0.0.1" port="%d" ruleset="drain")
ruleset(name="drain") { action(type="omfile" file=%q template="fields") }
`, dir, port, out)
	cf := filepath.Join(dir, "rsyslog.conf")
	require.NoError(t, os.WriteFile(cf, []byte(conf), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-n", "-f", cf, "-i", filepath.Join(dir, "pid"))
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	defer func() { cancel(); _ = cmd.Wait() }()
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", lis.Addr().String())
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "rsyslogd listening")

	m, err := drain.NewManager(drain.WithHostname("cell-1"))
	require.NoError(t, err)
	defer m.Close()
	require.NoError(t, m.SetBindings([]drain.Binding{{SourceID: "app", URL: fmt.Sprintf("syslog://127.0.0.1:%d?drain-type=all", port)}}))
	const n = 50
	ts := time.Date(2024, 5, 1, 12, 0, 0, 123456000, time.UTC)
	for i := range n {
		require.NoError(t, m.PublishEnvelope(envelope.NewLog("app", []byte(fmt.Sprintf("line %d", i)), envelope.WithTimestamp(ts),
			envelope.WithInstanceID("0"), envelope.WithTags(map[string]string{"source_type": "APP/PROC/WEB", "q": `a"b`}))))
	}
	require.NoError(t, m.PublishEnvelope(envelope.NewCounter("app", "requests", 1, envelope.WithTotal(7), envelope.WithTimestamp(ts), envelope.WithInstanceID("0"))))
	require.NoError(t, m.Shutdown(context.Background()))

	var lines []string
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(out)
		lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		return len(lines) == n+1
	}, 10*time.Second, 20*time.Millisecond)
	for i, l := range lines[:n] {
		f := strings.SplitN(l, "|", 8)
		require.Len(t, f, 8, l)
		assert.Equal(t, []string{"14", "2024-05-01T12:00:00.123456+00:00", "cell-1", "app", "[APP/PROC/WEB/0]", "-",
			`[tags@47450 q="a\"b" source_type="APP/PROC/WEB"]`}, f[:7])
		assert.Equal(t, fmt.Sprintf("line %d", i), strings.TrimSpace(strings.TrimSuffix(f[7], "#012")))
	}
	assert.Contains(t, lines[n], `|[counter@47450 name="requests" total="7" delta="1"]|`)
}
