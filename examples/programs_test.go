package examples_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/discovery/discoverytest"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/ingress"
)

// loadgenSummary and nozzleSummary are the parts of the programs' JSON
// summaries the test reads.
type loadgenSummary struct {
	Emitted, Sent, Confirmed, Unconfirmed uint64
	Dropped                               map[string]uint64
	Kinds                                 map[string]uint64
}

type nozzleSummary struct {
	ShardID                                 string `json:"shard_id"`
	Received, Delivered, Dropped, Discarded uint64
	Reconnects                              uint64
	Kinds                                   map[string]uint64
}

func TestMain(m *testing.M) {
	code := m.Run()
	faultCleanup()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var programs = []string{"router", "agent", "proxy", "nozzle", "loadgen", "etcd", "devcerts"}

// TestProgramsCarryEnvelopesEndToEnd builds the example programs, starts them
// as processes over loopback with mutual TLS on every hop (certificates made
// by devcerts), and sends envelopes from loadgen through agent, router and
// proxy to two nozzles with different shard IDs: each must account for every
// envelope loadgen sent, as received or as a drop some program counted.
//
// It runs three times, with agent and proxy finding the router three ways:
// given by -routers; by -dns, a name whose A record a test DNS server
// answers; and in etcd (-etcd), run by the etcd program, where the router
// registers itself.
func TestProgramsCarryEnvelopesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the example programs as processes")
	}
	start := time.Now()
	bin := buildPrograms(t)
	t.Logf("built %v in %v", programs, time.Since(start).Round(time.Millisecond))
	for _, p := range programs {
		out, err := exec.Command(filepath.Join(bin, p), "-h").CombinedOutput()
		require.NoError(t, err, "%s -h must exit 0", p)
		assert.Contains(t, string(out), "Example:", "%s -h", p)
		if p != "devcerts" {
			assert.Contains(t, string(out), "-log-level", "%s -h", p)
		}
	}
	tlsDir := makeCerts(t, bin)
	t.Run("routers", func(t *testing.T) {
		runPipeline(t, bin, tlsDir, func(router *program) []string {
			return []string{"-routers", router.addr + "@z1"}
		}, nil)
	})
	t.Run("dns", func(t *testing.T) {
		dns := discoverytest.StartDNS(t)
		dns.SetA("routers.sluice.test", "127.0.0.1")
		runPipeline(t, bin, tlsDir, func(router *program) []string {
			_, port, err := net.SplitHostPort(router.addr)
			require.NoError(t, err)
			return []string{"-dns", "routers.sluice.test:" + port, "-dns-server", dns.Addr()}
		}, nil)
	})
	t.Run("etcd", func(t *testing.T) {
		etcd := startProgram(t, bin, "etcd", "-addr", "127.0.0.1:0", "-peer-addr", "127.0.0.1:0")
		runPipeline(t, bin, tlsDir, func(*program) []string {
			return []string{"-etcd", etcd.addr}
		}, []string{"-etcd", etcd.addr, "-ttl", "3s"})
		etcd.stop(t)
	})
}

// makeCerts runs devcerts into a temporary directory and checks what it
// wrote: a CA, and server and client pairs that verify against it for
// loopback. It returns the directory.
func makeCerts(t *testing.T, bin string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	out, err := exec.Command(filepath.Join(bin, "devcerts"), "-dir", dir, "-hosts", "router.sluice.test,10.0.0.5").CombinedOutput()
	require.NoError(t, err, "devcerts: %s", out)
	names := []string{"ca.pem", "server.pem", "server-key.pem", "client.pem", "client-key.pem"}
	var want []string
	for _, n := range names {
		want = append(want, filepath.Join(dir, n))
	}
	assert.Equal(t, want, strings.Fields(string(out)), "devcerts prints the files it wrote")
	info, err := os.Stat(filepath.Join(dir, "server-key.pem"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "keys are private")

	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM))
	leaf := func(name string) *x509.Certificate {
		pair, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem"))
		require.NoError(t, err, name)
		c, err := x509.ParseCertificate(pair.Certificate[0])
		require.NoError(t, err)
		return c
	}
	server, client := leaf("server"), leaf("client")
	for _, host := range []string{"localhost", "127.0.0.1", "::1", "router.sluice.test", "10.0.0.5"} {
		_, err := server.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		assert.NoError(t, err, "server certificate for %s", host)
	}
	_, err = server.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: roots})
	assert.Error(t, err, "server certificate only for the names asked")
	_, err = client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	assert.NoError(t, err, "client certificate")
	_, err = client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	assert.Error(t, err, "the client certificate is not a server's")

	out, err = exec.Command(filepath.Join(bin, "devcerts"), "-dir", dir).CombinedOutput()
	assert.Error(t, err, "devcerts does not overwrite without -force: %s", out)
	return dir
}

// runPipeline runs router, proxy, two nozzles, agent and loadgen and checks
// the accounting. routersArgs tells agent and proxy where the router is;
// registerArgs are the router's discovery flags.
func runPipeline(t *testing.T, bin, tlsDir string, routersArgs func(*program) []string, registerArgs []string) {
	start := time.Now()
	file := func(name string) string { return filepath.Join(tlsDir, name) }
	ca, clientCert, clientKey := file("ca.pem"), file("client.pem"), file("client-key.pem")
	serverTLS := []string{"-tls-cert", file("server.pem"), "-tls-key", file("server-key.pem"), "-tls-ca", ca}
	clientTLS := []string{"-tls-ca", ca, "-tls-cert", clientCert, "-tls-key", clientKey}
	routerTLS := []string{"-router-tls-ca", ca, "-router-tls-cert", clientCert, "-router-tls-key", clientKey}

	// The router also sends its own counters as envelopes to an agent, here
	// an Ingress server of the test's own.
	telemetryAgent, telemetryBuf := startTelemetryAgent(t, ca, file("server.pem"), file("server-key.pem"))
	agentTLS := []string{"-agent-addr", telemetryAgent, "-agent-tls-ca", ca, "-agent-tls-cert", clientCert, "-agent-tls-key", clientKey}
	gateway := []string{"-gateway-addr", "127.0.0.1:0"}
	router := startProgram(t, bin, "router", concat([]string{"-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0", "-zone", "z1", "-id", "r1"}, gateway, registerArgs, serverTLS, agentTLS)...)
	proxy := startProgram(t, bin, "proxy", concat([]string{"-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0"}, gateway, routersArgs(router), serverTLS, routerTLS)...)
	checkGateway(t, router, tlsDir)
	checkGateway(t, proxy, tlsDir)
	shards := []string{"billing", "audit"}
	nozzles := make([]*program, len(shards))
	for i, shard := range shards {
		nozzles[i] = startProgram(t, bin, "nozzle", append([]string{"-addr", proxy.addr, "-shard-id", shard, "-metrics-addr", "127.0.0.1:0"}, clientTLS...)...)
	}
	// Both nozzles are subscribed at the router (through the proxy's
	// Firehoses) before anything is sent.
	require.Eventually(t, func() bool {
		return router.metric(t, "subscriptions", "component", "router") == 2
	}, 20*time.Second, 50*time.Millisecond, "nozzles never subscribed at the router")

	agent := startProgram(t, bin, "agent", concat([]string{"-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0", "-zone", "z1"}, routersArgs(router), serverTLS, routerTLS)...)
	require.Eventually(t, func() bool {
		return agent.metric(t, "doppler_connections", "component", "pool") > 0
	}, 20*time.Second, 50*time.Millisecond, "agent never connected to the router")

	// loadgen sends for its duration, flushes, and exits with its summary.
	var lg loadgenSummary
	out, err := exec.Command(filepath.Join(bin, "loadgen"), append([]string{"-addr", agent.addr, "-rate", "2000", "-duration", "3s", "-source-id", "e2e"}, clientTLS...)...).Output()
	require.NoError(t, err, "loadgen: %s", out)
	require.NoError(t, json.Unmarshal(lastLine(out), &lg), "loadgen summary: %s", out)
	t.Logf("loadgen: %s", bytes.TrimSpace(out))
	require.NotZero(t, lg.Sent)
	require.Equal(t, lg.Emitted, lg.Sent+sum(lg.Dropped), "loadgen's own accounting")
	require.Equal(t, lg.Sent, lg.Confirmed, "the agent confirmed the flushed stream")

	// The agent forwards everything it accepted before it is stopped, so its
	// metrics read now are final; then SIGTERM, and it must exit cleanly.
	agentDrops := func() float64 {
		return agent.metric(t, "dropped", "component", "ingress_server") + agent.metric(t, "dropped", "component", "forwarder")
	}
	require.Eventually(t, func() bool {
		return agent.metric(t, "ingress", "component", "ingress_server") == float64(lg.Sent) &&
			agent.metric(t, "egress", "component", "forwarder")+agentDrops() == float64(lg.Sent)
	}, 20*time.Second, 50*time.Millisecond, "agent did not forward what loadgen sent")
	upstreamDrops := agentDrops()
	agent.stop(t)

	// Every envelope reaches each nozzle or is a drop counted on the way.
	// Wait for that, then make sure nothing more arrives, then stop them.
	pathDrops := func(shard string) float64 {
		return upstreamDrops +
			router.metric(t, "dropped", "component", "ingress_server") +
			router.metric(t, "dropped", "component", "router", "direction", "ingress") +
			router.metric(t, "dropped", "component", "router", "shard_id", shard) +
			router.metric(t, "dropped", "component", "egress_server", "shard_id", shard) +
			proxy.metric(t, "dropped", "component", "firehose", "shard_id", shard) +
			proxy.metric(t, "dropped", "component", "egress_server", "shard_id", shard)
	}
	settled := func() bool {
		for i, n := range nozzles {
			if n.metric(t, "ingress", "component", "reader")+pathDrops(shards[i]) != float64(lg.Sent) {
				return false
			}
		}
		return true
	}
	require.Eventually(t, settled, 20*time.Second, 50*time.Millisecond, "nozzles did not account for what loadgen sent")
	time.Sleep(200 * time.Millisecond) // a late duplicate would show now
	require.True(t, settled(), "nozzles received more than loadgen sent")
	drops := map[string]float64{}
	for _, shard := range shards {
		drops[shard] = pathDrops(shard)
	}

	for i, n := range nozzles {
		out := n.stop(t)
		var s nozzleSummary
		require.NoError(t, json.Unmarshal(lastLine(out), &s), "nozzle summary: %s", out)
		t.Logf("nozzle %s: %s (drops on the path: %v)", shards[i], bytes.TrimSpace(lastLine(out)), drops[shards[i]])
		assert.Equal(t, shards[i], s.ShardID)
		assert.Equal(t, s.Received, s.Delivered+s.Dropped+s.Discarded, "nozzle %s's own accounting", shards[i])
		assert.Equal(t, float64(lg.Sent), float64(s.Delivered+s.Dropped+s.Discarded)+drops[shards[i]],
			"nozzle %s: loadgen sent == delivered + counted drops", shards[i])
		if drops[shards[i]] == 0 && s.Dropped+s.Discarded == 0 {
			assert.Equal(t, lg.Kinds, s.Kinds, "nozzle %s got every kind loadgen sent", shards[i])
		}
	}
	proxy.stop(t)
	routerIngress := router.metric(t, "ingress", "component", "ingress_server", "job", "router")
	require.Equal(t, float64(lg.Sent), routerIngress)
	router.stop(t)

	// The router's envelopes reached the agent: the deltas of its ingress
	// counter add up to the total its /metrics served last.
	var deltas, total uint64
	for {
		b, ok := telemetryBuf.TryNext()
		if !ok {
			break
		}
		var e envelope.Envelope
		require.NoError(t, proto.Unmarshal(b, &e))
		c := e.GetCounter()
		if c.GetName() != "ingress" || e.GetTags()["component"] != "ingress_server" {
			continue
		}
		assert.Equal(t, "doppler", e.GetSourceId())
		assert.Equal(t, "r1", e.GetTags()["router_id"])
		deltas += c.GetDelta()
		total = c.GetTotal()
	}
	assert.Equal(t, uint64(routerIngress), total, "the router's last ingress envelope carries its final total")
	assert.Equal(t, total, deltas, "its deltas add up to its total")
	t.Logf("whole run: %v", time.Since(start).Round(time.Millisecond))
}

// startTelemetryAgent starts an Ingress server over mutual TLS (the PEM
// files given) that keeps what it receives in the returned buffer.
func startTelemetryAgent(t *testing.T, ca, cert, key string) (string, diode.Buffer[[]byte]) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(cert, key)
	require.NoError(t, err)
	pem, err := os.ReadFile(ca)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pem))
	buf, err := diode.NewManyToOne[[]byte](10000)
	require.NoError(t, err)
	srv, err := ingress.NewServer(buf, ingress.WithTLS(&tls.Config{
		Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	}))
	require.NoError(t, err)
	addr, err := srv.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return addr.String(), buf
}

// buildPrograms builds the example programs of this module into a temp dir.
func buildPrograms(t *testing.T) string {
	t.Helper()
	return buildSome(t, programs...)
}

// buildSome builds the named example programs into a temp dir.
func buildSome(t *testing.T, programs ...string) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	require.NoError(t, err)
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	bin := t.TempDir()
	// No symbol table or DWARF: linking the gRPC programs is most of the
	// build time.
	args := []string{"build", "-ldflags=-s -w", "-o", bin + string(filepath.Separator)}
	for _, p := range programs {
		args = append(args, "./examples/"+p)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// program is a running example program.
type program struct {
	name       string
	cmd        *exec.Cmd
	addr       string // first word of the first line
	metricsURL string
	gatewayURL string
	v1FireURL  string
	stdout     *syncBuffer
	stderr     *syncBuffer
	done       chan struct{}
}

// startProgram starts a listening program and reads its first line.
func startProgram(t *testing.T, bin, name string, args ...string) *program {
	t.Helper()
	p := &program{name: name, cmd: exec.Command(filepath.Join(bin, name), args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stderr = p.stderr
	pipe, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	first := make(chan string, 1)
	go func() {
		defer close(p.done)
		r := bufio.NewReader(pipe)
		line, _ := r.ReadString('\n')
		first <- line
		p.stdout.Write([]byte(line))
		_, _ = io.Copy(p.stdout, r)
		_ = p.cmd.Wait()
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s stderr: %s", name, p.stderr.String())
		}
	})
	select {
	case line := <-first:
		fields := strings.Fields(line)
		require.NotEmpty(t, fields, "%s printed no address; stderr: %s", name, p.stderr.String())
		p.addr = fields[0]
		for _, f := range fields[1:] {
			if u, ok := strings.CutPrefix(f, "metrics="); ok {
				p.metricsURL = u
			}
			if u, ok := strings.CutPrefix(f, "gateway="); ok {
				p.gatewayURL = u
			}
			if u, ok := strings.CutPrefix(f, "firehose="); ok {
				p.v1FireURL = u
			}
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s printed no address within 20s; stderr: %s", name, p.stderr.String())
	}
	return p
}

// checkGateway asks the program's /v2/read gateway, over mutual TLS, for
// nothing: a gateway that is served answers 400 with a JSON error.
func checkGateway(t *testing.T, p *program, tlsDir string) {
	t.Helper()
	require.True(t, strings.HasPrefix(p.gatewayURL, "https://"), "%s gateway URL %q", p.name, p.gatewayURL)
	tr := &http.Transport{TLSClientConfig: clientTLSFromDir(t, tlsDir)}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(p.gatewayURL + "/v2/read")
	require.NoError(t, err, "%s gateway", p.name)
	defer resp.Body.Close()
	var body struct{ Error, Message string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s gateway: %+v", p.name, body)
	assert.NotEmpty(t, body.Error, "%s gateway", p.name)
}

// stop sends SIGTERM, waits for a clean exit and returns the stdout.
func (p *program) stop(t *testing.T) []byte {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not exit within 20s of SIGTERM", p.name)
	}
	require.True(t, p.cmd.ProcessState.Success(), "%s exited with %v; stderr: %s", p.name, p.cmd.ProcessState, p.stderr.String())
	return p.stdout.Bytes()
}

// metric scrapes the program's /metrics and sums the series called name
// whose labels include the given pairs.
func (p *program) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	require.NotEmpty(t, p.metricsURL, "%s serves no /metrics", p.name)
	resp, err := http.Get(p.metricsURL)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var total float64
	for _, line := range strings.Split(string(body), "\n") {
		series, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		n, lbls, _ := strings.Cut(series, "{")
		if n != name || !hasLabels(lbls, labels) {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		require.NoError(t, err, "%s: %q", p.name, line)
		total += v
	}
	return total
}

// hasLabels reports whether a series' label text (`a="x",b="y"}`) holds
// every pair of want.
func hasLabels(text string, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		if !strings.Contains(","+text, fmt.Sprintf(",%s=%q", want[i], want[i+1])) {
			return false
		}
	}
	return true
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}

func sum(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

func (b *syncBuffer) String() string { return string(b.Bytes()) }
