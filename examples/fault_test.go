package examples_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
)

// The fault suite runs the example programs as real processes (two
// routers, an agent, a proxy, two nozzles in two shard groups, loadgen) and
// checks the ledger per hop while routers are stopped, killed and
// restarted. Every program sends its counters as envelopes to an Ingress
// server of the test's own (-agent-addr), and a program stopped gracefully
// sends its final totals last, so the books are read from the programs'
// own counts taken at both ends of each hop:
//
//	loadgen sent          == agent ingress
//	agent ingress         == agent egress + agent drops (by cause)
//	agent egress          == routers' ingress + refused + unaccounted(agent->routers)
//	routers' ingress      == routed + unrouted (+ router ingress drops)
//	per shard: routed     == nozzle received + drops on the way (router, egress
//	                         server, proxy, by cause) + unaccounted(routers->nozzle)
//
// Each scenario prints, per shard: sent, delivered, counted by cause,
// unaccounted, and the time to recover.

// faultRig is one running topology.
type faultRig struct {
	t        *testing.T
	bin      string
	tls      faultTLS
	mode     string // agent's -mode: stream or ack
	tel      *faultTelemetry
	routers  []*faultRouter
	agent    *program
	proxy    *program
	nozzles  []*program
	shards   []string
	loadgen  *exec.Cmd
	lgOut    *syncBuffer
	lgDone   chan error
	incarnat int
	etcd     *program // nil: static discovery (-routers)
	// keepalive: extra flags for the agent's and the proxy's router
	// connections (-router-keepalive...); nil: the programs' defaults.
	keepalive []string
	// routerArgs and proxyArgs are extra flags for the routers and the
	// proxy.
	routerArgs, proxyArgs []string
}

type faultTLS struct {
	server, client, router []string
	ca, cert, key          string
}

type faultRouter struct {
	addr string
	id   string
	p    *program
}

func newFaultRig(t *testing.T, mode string) *faultRig {
	if testing.Short() {
		t.Skip("runs the example programs as processes")
	}
	bin := faultPrograms(t)
	dir := makeCerts(t, bin)
	file := func(name string) string { return filepath.Join(dir, name) }
	ca, cert, key := file("ca.pem"), file("client.pem"), file("client-key.pem")
	r := &faultRig{t: t, bin: bin, mode: mode, shards: []string{"billing", "audit"}}
	r.tls = faultTLS{
		server: []string{"-tls-cert", file("server.pem"), "-tls-key", file("server-key.pem"), "-tls-ca", ca},
		client: []string{"-tls-ca", ca, "-tls-cert", cert, "-tls-key", key},
		router: []string{"-router-tls-ca", ca, "-router-tls-cert", cert, "-router-tls-key", key},
		ca:     ca, cert: cert, key: key,
	}
	addr, buf := startTelemetryAgent(t, ca, file("server.pem"), file("server-key.pem"))
	r.tel = &faultTelemetry{addr: addr, buf: buf, totals: map[string]float64{}}
	return r
}

// The fault scenarios share one build of the programs (removed by
// TestMain), so that each scenario does not link them again.
var (
	faultBuildOnce sync.Once
	faultBinDir    string
	faultBuildErr  error
)

func faultPrograms(t *testing.T) string {
	faultBuildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-fault-")
		if err != nil {
			faultBuildErr = err
			return
		}
		faultBinDir = dir
		gomod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			faultBuildErr = err
			return
		}
		args := []string{"build", "-ldflags=-s -w", "-o", dir + string(filepath.Separator)}
		for _, p := range programs {
			args = append(args, "./examples/"+p)
		}
		cmd := exec.Command("go", args...)
		cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
		if out, err := cmd.CombinedOutput(); err != nil {
			faultBuildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	require.NoError(t, faultBuildErr)
	return faultBinDir
}

func faultCleanup() {
	if faultBinDir != "" {
		_ = os.RemoveAll(faultBinDir)
	}
}

func (r *faultRig) telemetryArgs() []string {
	return []string{"-agent-addr", r.tel.addr, "-agent-tls-ca", r.tls.ca, "-agent-tls-cert", r.tls.cert, "-agent-tls-key", r.tls.key}
}

// freeAddr returns a loopback address nobody listens on now.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func (r *faultRig) routerList() []string {
	if r.etcd != nil {
		return []string{"-etcd", r.etcd.addr}
	}
	var eps []string
	for _, x := range r.routers {
		eps = append(eps, x.addr+"@z1")
	}
	return []string{"-routers", strings.Join(eps, ",")}
}

// startRouter starts (or restarts) router i on its fixed address, with a
// fresh ID per incarnation (its counters start from zero).
func (r *faultRig) startRouter(i int) {
	x := r.routers[i]
	r.incarnat++
	x.id = fmt.Sprintf("r%d-%d", i, r.incarnat)
	x.p = startProgram(r.t, r.bin, "router", concat([]string{"-addr", x.addr, "-metrics-addr", "127.0.0.1:0", "-zone", "z1", "-id", x.id,
		"-shutdown-timeout", "15s", "-log-level", "error"}, r.registerArgs(), r.routerArgs, r.tls.server, r.telemetryArgs())...)
}

// useEtcd starts an etcd for the routers to register in and the agent and
// proxy to watch.
func (r *faultRig) useEtcd() {
	r.etcd = startProgram(r.t, r.bin, "etcd", "-addr", "127.0.0.1:0", "-peer-addr", "127.0.0.1:0")
}

func (r *faultRig) registerArgs() []string {
	if r.etcd == nil {
		return nil
	}
	return []string{"-etcd", r.etcd.addr, "-ttl", "3s"}
}

// start brings the topology up and waits until both nozzles are subscribed
// at both routers and the agent has its streams.
func (r *faultRig) start() {
	t := r.t
	r.routers = []*faultRouter{{addr: freeAddr(t)}, {addr: freeAddr(t)}}
	for i := range r.routers {
		r.startRouter(i)
	}
	r.proxy = startProgram(t, r.bin, "proxy", concat([]string{"-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0", "-log-level", "error"},
		r.routerList(), r.keepalive, r.proxyArgs, r.tls.server, r.tls.router, r.telemetryArgs())...)
	for _, shard := range r.shards {
		r.nozzles = append(r.nozzles, startProgram(t, r.bin, "nozzle", append([]string{"-addr", r.proxy.addr, "-shard-id", shard, "-metrics-addr", "127.0.0.1:0"}, r.tls.client...)...))
	}
	for i := range r.routers {
		r.waitSubscribed(i)
	}
	r.agent = startProgram(t, r.bin, "agent", concat([]string{"-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0", "-zone", "z1", "-mode", r.mode, "-log-level", "error"},
		r.routerList(), r.keepalive, r.tls.server, r.tls.router, r.telemetryArgs())...)
	require.Eventually(t, func() bool {
		return r.agent.metric(t, "doppler_connections", "component", "pool") == 5
	}, 20*time.Second, 20*time.Millisecond, "agent never connected its streams")
}

func (r *faultRig) waitSubscribed(i int) {
	require.Eventually(r.t, func() bool {
		return r.routers[i].p.metric(r.t, "subscriptions", "component", "router") == float64(len(r.shards))
	}, 20*time.Second, 20*time.Millisecond, "nozzles never subscribed at router %d", i)
}

// startLoad runs loadgen against the agent in the background.
func (r *faultRig) startLoad(rate int, d time.Duration) {
	r.lgOut = &syncBuffer{}
	r.loadgen = exec.Command(filepath.Join(r.bin, "loadgen"), append([]string{"-addr", r.agent.addr, "-rate", fmt.Sprint(rate),
		"-duration", d.String(), "-source-id", "fault"}, r.tls.client...)...)
	r.loadgen.Stdout = r.lgOut
	require.NoError(r.t, r.loadgen.Start())
	r.lgDone = make(chan error, 1)
	go func() { r.lgDone <- r.loadgen.Wait() }()
}

func (r *faultRig) waitLoad() loadgenSummary {
	var err error
	select {
	case err = <-r.lgDone:
	case <-time.After(60 * time.Second):
		_ = r.loadgen.Process.Kill()
		r.t.Fatal("loadgen did not finish")
	}
	require.NoError(r.t, err, "loadgen: %s", r.lgOut.String())
	var lg loadgenSummary
	require.NoError(r.t, json.Unmarshal(lastLine(r.lgOut.Bytes()), &lg), "loadgen summary: %s", r.lgOut.String())
	return lg
}

// stopRouter stops router i gracefully (SIGTERM) and checks its exit.
func (r *faultRig) stopRouter(i int) time.Duration {
	start := time.Now()
	r.routers[i].p.stop(r.t)
	return time.Since(start)
}

// killRouter kills router i (SIGKILL). Its counters are read from its
// /metrics just before: what it takes in after that, and what it holds,
// is the crash's loss.
func (r *faultRig) killRouter(i int) {
	p := r.routers[i].p
	r.tel.scrape(r.t, p)
	require.NoError(r.t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
	r.routers[i].p = nil
}

// recovered waits until router i is serving again: both shards
// subscribed and the agent sending to it.
func (r *faultRig) recovered(i int) {
	r.waitSubscribed(i)
	require.Eventually(r.t, func() bool {
		return r.routers[i].p.metric(r.t, "ingress", "component", "ingress_server") > 0
	}, 30*time.Second, 20*time.Millisecond, "the agent did not come back to router %d", i)
}

// finish stops everything gracefully in path order and returns the nozzle
// summaries. Every program's final totals are then in the telemetry.
func (r *faultRig) finish(lg loadgenSummary) []nozzleSummary {
	t := r.t
	// The agent has forwarded everything loadgen sent once its books close.
	require.Eventually(t, func() bool {
		drops := r.agent.metric(t, "dropped", "component", "ingress_server") + r.agent.metric(t, "dropped", "component", "forwarder")
		return r.agent.metric(t, "ingress", "component", "ingress_server") == float64(lg.Sent) &&
			r.agent.metric(t, "egress", "component", "forwarder")+drops == float64(lg.Sent)
	}, 30*time.Second, 20*time.Millisecond, "agent did not forward what loadgen sent")
	r.agent.stop(t)
	for i := range r.routers {
		if r.routers[i].p != nil {
			r.stopRouter(i)
		}
	}
	r.proxy.stop(t)
	if r.etcd != nil {
		r.etcd.stop(t)
	}
	sums := make([]nozzleSummary, len(r.nozzles))
	for i, n := range r.nozzles {
		out := n.stop(t)
		require.NoError(t, json.Unmarshal(lastLine(out), &sums[i]), "nozzle summary: %s", out)
	}
	r.tel.drain(t)
	return sums
}

// faultLedger is the books of one run, per hop.
type faultLedger struct {
	sent              uint64
	agentIn, agentOut float64
	agentDrops        map[string]float64
	agentUnconfirmed  float64
	agentRetries      float64 // batches the pool sent again after a failure
	// stale is how many envelopes a killed router may have taken in and
	// passed on after its counters were last read (0 unless one was
	// killed): its routed count may be short by as many.
	stale                   float64
	routersIn, routersRefus float64
	routerInDrops           float64
	routed, unrouted        float64
	perShard                map[string]*faultShard
}

type faultShard struct {
	routed      float64 // copies handed to the shard's subscriptions
	notRouted   float64 // taken in by the routers, never handed to the shard
	drops       map[string]float64
	received    uint64 // by the nozzle
	delivered   uint64
	unaccounted float64
}

// ledger computes the books from the final telemetry and nozzle summaries.
func (r *faultRig) ledger(lg loadgenSummary, nz []nozzleSummary) *faultLedger {
	tel := r.tel
	l := &faultLedger{sent: lg.Sent, agentDrops: map[string]float64{}, perShard: map[string]*faultShard{}}
	l.agentIn = tel.sum("agent", "ingress", "component", "ingress_server")
	l.agentOut = tel.sum("agent", "egress", "component", "pool")
	for _, c := range []string{"ingress_server", "forwarder"} {
		for cause, n := range tel.byTag("agent", "dropped", "cause", "component", c) {
			l.agentDrops[c+"/"+cause] += n
		}
	}
	l.agentUnconfirmed = tel.sum("agent", "unconfirmed", "component", "pool")
	l.agentRetries = tel.sum("agent", "retries", "component", "pool")
	l.routersIn = tel.sum("router", "ingress", "component", "ingress_server")
	l.routersRefus = tel.sum("router", "rejected", "component", "ingress_server")
	l.routerInDrops = tel.sum("router", "dropped", "component", "ingress_server") + tel.sum("router", "dropped", "component", "router", "direction", "ingress")
	l.routed = tel.sum("router", "routed", "component", "router")
	l.unrouted = tel.sum("router", "unrouted", "component", "router")
	for i, shard := range r.shards {
		s := &faultShard{drops: map[string]float64{}, received: nz[i].Received, delivered: nz[i].Delivered}
		s.routed = tel.sum("router", "egress_by_shard", "component", "router", "shard_id", shard)
		for cause, n := range tel.byTag("router", "dropped", "cause", "component", "router", "shard_id", shard) {
			s.drops["router/"+cause] += n
		}
		for cause, n := range tel.byTag("router", "dropped", "cause", "component", "egress_server", "shard_id", shard) {
			s.drops["router_egress/"+cause] += n
		}
		for _, c := range []string{"firehose", "egress_server"} {
			for cause, n := range tel.byTag("proxy", "dropped", "cause", "component", c, "shard_id", shard) {
				s.drops["proxy_"+c+"/"+cause] += n
			}
		}
		s.drops["nozzle/overflow"] = float64(nz[i].Dropped)
		s.drops["nozzle/shutdown"] = float64(nz[i].Discarded)
		counted := 0.0
		for _, n := range s.drops {
			counted += n
		}
		s.unaccounted = s.routed - float64(s.received) - (counted - float64(nz[i].Dropped+nz[i].Discarded))
		// The routers' own books: what they took in and did not hand to
		// this shard (no subscription of the shard at that router then:
		// unrouted, or a restarted router the shard had not found yet).
		s.notRouted = l.routersIn - l.routerInDrops - s.routed
		l.perShard[shard] = s
	}
	return l
}

// check asserts the books close per hop. Graceful scenarios (crash false)
// account for everything, exactly; for a crash, crashBound bounds the loss
// inside broken streams and the killed process's memory, and is printed
// beside the measured loss. A batch the agent's pool sent again after a
// failure (acknowledged mode) may have reached the router it failed on too:
// such duplicates show as negative loss, and are reported as duplicates,
// at most the retried batches' envelopes (a batch holds at most
// faultBatch).
func (l *faultLedger) check(t *testing.T, name string, recover []time.Duration, crash bool, crashBound float64) {
	t.Helper()
	agentDrops := 0.0
	for _, n := range l.agentDrops {
		agentDrops += n
	}
	dupBound := l.agentRetries * faultBatch
	hop2 := l.agentOut - l.routersIn
	t.Logf("%s: sent %d | agent in %.0f out %.0f drops %v unconfirmed %.0f retried batches %.0f | routers in %.0f refused %.0f in-drops %.0f routed %.0f unrouted %.0f | agent->routers unaccounted %.0f | recover %v",
		name, l.sent, l.agentIn, l.agentOut, nonZero(l.agentDrops), l.agentUnconfirmed, l.agentRetries, l.routersIn, l.routersRefus, l.routerInDrops, l.routed, l.unrouted, max(hop2, 0), recover)
	if hop2 < 0 {
		t.Logf("%s: agent->routers duplicates %.0f (bound: %.0f retried batches x %d = %.0f)", name, -hop2, l.agentRetries, faultBatch, dupBound)
	}
	assert.Equal(t, float64(l.sent), l.agentIn, "loadgen -> agent")
	assert.Equal(t, l.agentIn, l.agentOut+agentDrops, "agent's books")
	assert.Equal(t, l.routersIn-l.routerInDrops, l.routed+l.unrouted, "routers' books: ingress == routed + unrouted")
	for _, shard := range sortedKeys(l.perShard) {
		s := l.perShard[shard]
		counted := agentDrops + l.routerInDrops + s.notRouted
		for _, n := range s.drops {
			counted += n
		}
		lost := float64(l.sent) - float64(s.delivered) - counted
		t.Logf("%s shard %s: sent %d delivered %d counted %.0f = agent %v, router ingress %.0f, not routed to the shard %.0f (unrouted at all %.0f), %v | unaccounted %.0f (bound %.0f) duplicates %.0f | routers->nozzle unaccounted %.0f",
			name, shard, l.sent, s.delivered, counted, nonZero(l.agentDrops), l.routerInDrops, s.notRouted, l.unrouted, nonZero(s.drops), max(lost, 0), crashBound, max(-lost, 0), s.unaccounted)
		if !crash {
			assert.Equal(t, 0.0, s.unaccounted, "shard %s: routers -> nozzle", shard)
			assert.Equal(t, 0.0, lost, "shard %s: sent == delivered + counted", shard)
			continue
		}
		assert.LessOrEqual(t, lost, crashBound, "shard %s: crash loss within the bound", shard)
		assert.GreaterOrEqual(t, lost, -dupBound, "shard %s: duplicates only from retried batches", shard)
		assert.LessOrEqual(t, s.unaccounted, crashBound, "shard %s: routers -> nozzle within the bound", shard)
		assert.GreaterOrEqual(t, s.unaccounted, -l.stale, "shard %s: routers -> nozzle: no more received than routed (less a killed router's last counts)", shard)
	}
	if !crash {
		assert.Equal(t, 0.0, hop2, "agent -> routers")
	} else {
		assert.LessOrEqual(t, hop2, crashBound, "agent -> routers within the bound")
		assert.GreaterOrEqual(t, hop2, -dupBound, "agent -> routers: duplicates only from retried batches")
	}
}

// faultBatch is the most envelopes one batch of the agent holds (its
// forwarder's batch size).
const faultBatch = 100

func nonZero(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// faultTelemetry keeps the highest total of every counter series the
// programs sent, by job and instance.
type faultTelemetry struct {
	addr   string
	buf    diode.Buffer[[]byte]
	mu     sync.Mutex
	totals map[string]float64 // key: job|instance|name|k=v,...
}

// scrape records every counter p's /metrics serves now, as if p had sent
// them (a process about to be killed sends nothing more).
func (f *faultTelemetry) scrape(t *testing.T, p *program) {
	resp, err := http.Get(p.metricsURL)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	f.mu.Lock()
	defer f.mu.Unlock()
	counters := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, kind, _ := strings.Cut(rest, " ")
			counters[name] = kind == "counter"
			continue
		}
		series, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		name, lbls, _ := strings.Cut(series, "{")
		if !counters[name] {
			continue
		}
		tags := map[string]string{}
		for _, kv := range strings.Split(strings.TrimSuffix(lbls, "}"), ",") {
			k, v, ok := strings.Cut(kv, "=")
			if ok {
				tags[k] = strings.Trim(v, `"`)
			}
		}
		v, err := strconv.ParseFloat(value, 64)
		require.NoError(t, err)
		f.record(name, tags, v)
	}
}

func (f *faultTelemetry) record(name string, tags map[string]string, total float64) {
	var kv []string
	for k, v := range tags {
		if k != "job" && k != "router_id" && k != "zone" {
			kv = append(kv, k+"="+v)
		}
	}
	sort.Strings(kv)
	key := tags["job"] + "|" + tags["router_id"] + "|" + name + "|" + strings.Join(kv, ",")
	f.totals[key] = max(f.totals[key], total)
}

func (f *faultTelemetry) drain(t *testing.T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		b, ok := f.buf.TryNext()
		if !ok {
			return
		}
		var e envelope.Envelope
		require.NoError(t, proto.Unmarshal(b, &e))
		c := e.GetCounter()
		if c == nil {
			continue
		}
		f.record(c.GetName(), e.GetTags(), float64(c.GetTotal()))
	}
}

// sum adds the totals of job's series called name whose tags include the
// pairs given, over every instance.
func (f *faultTelemetry) sum(job, name string, tags ...string) float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	total := 0.0
	for key, v := range f.totals {
		parts := strings.SplitN(key, "|", 4)
		if parts[0] != job || parts[2] != name || !faultHasTags(parts[3], tags) {
			continue
		}
		total += v
	}
	return total
}

// byTag is sum split by the value of tag.
func (f *faultTelemetry) byTag(job, name, tag string, tags ...string) map[string]float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]float64{}
	for key, v := range f.totals {
		parts := strings.SplitN(key, "|", 4)
		if parts[0] != job || parts[2] != name || !faultHasTags(parts[3], tags) {
			continue
		}
		for _, p := range strings.Split(parts[3], ",") {
			if val, ok := strings.CutPrefix(p, tag+"="); ok {
				out[val] += v
			}
		}
	}
	return out
}

func faultHasTags(text string, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		if !strings.Contains(","+text+",", ","+want[i]+"="+want[i+1]+",") {
			return false
		}
	}
	return true
}

// TestFaultRollingRestart stops every router in turn gracefully (SIGTERM)
// and starts it again on its address while loadgen sends, with static
// discovery, in stream and acknowledged modes. Nothing may be unaccounted.
func TestFaultRollingRestart(t *testing.T) {
	for _, tc := range []struct{ mode, discovery string }{{"stream", "static"}, {"ack", "static"}, {"stream", "etcd"}} {
		mode := tc.mode
		t.Run(mode+"/"+tc.discovery, func(t *testing.T) {
			r := newFaultRig(t, mode)
			if tc.discovery == "etcd" {
				r.useEtcd()
			}
			r.start()
			r.startLoad(5000, 8*time.Second)
			var recover []time.Duration
			for i := range r.routers {
				time.Sleep(time.Second) //nolint:forbidigo // let traffic flow before the stop
				start := time.Now()
				took := r.stopRouter(i)
				t.Logf("router %d stopped gracefully in %v", i, took.Round(time.Millisecond))
				r.startRouter(i)
				r.recovered(i)
				recover = append(recover, time.Since(start).Round(time.Millisecond))
			}
			lg := r.waitLoad()
			nz := r.finish(lg)
			r.ledger(lg, nz).check(t, "rolling restart/"+mode+"/"+tc.discovery, recover, false, 0)
		})
	}
}

// TestFaultKillRouter kills a router (SIGKILL) while loadgen sends and
// starts it again. What the killed router held in memory and what was in
// flight to it is lost; the loss must stay within what the agent counted
// unconfirmed (stream mode) and is 0 in acknowledged mode beyond the
// killed router's own unreported counts.
func TestFaultKillRouter(t *testing.T) {
	for _, mode := range []string{"stream", "ack"} {
		t.Run(mode, func(t *testing.T) { faultKillRouter(t, mode) })
	}
}

func faultKillRouter(t *testing.T, mode string) {
	r := newFaultRig(t, mode)
	r.start()
	r.startLoad(5000, 6*time.Second)
	time.Sleep(2 * time.Second) //nolint:forbidigo // let traffic flow before the kill
	start := time.Now()
	r.killRouter(0)
	r.startRouter(0)
	r.recovered(0)
	recover := []time.Duration{time.Since(start).Round(time.Millisecond)}
	lg := r.waitLoad()
	nz := r.finish(lg)
	l := r.ledger(lg, nz)
	// The bound: what the killed router could hold (its ingress diode and
	// two subscription diodes, the flags' defaults) plus what the agent
	// counted unconfirmed, plus what it took in between the last read of its
	// counters and the kill (at most the load rate for the read's 100 ms).
	l.stale = 500
	bound := 10000 + 2*1000 + l.agentUnconfirmed + l.stale
	l.check(t, "kill -9/"+r.mode, recover, true, bound)
}

// TestFaultStalledNozzle stops one nozzle (SIGSTOP) for 4 s while the
// other shard group keeps reading, then resumes it (SIGCONT). The proxy's
// buffer for the stalled shard overflows: every envelope is delivered or
// counted, exactly, and the other shard loses nothing.
func TestFaultStalledNozzle(t *testing.T) {
	r := newFaultRig(t, "stream")
	r.start()
	r.startLoad(5000, 8*time.Second)
	time.Sleep(time.Second) //nolint:forbidigo // let traffic flow before the stall
	stalled := r.nozzles[0]
	require.NoError(t, stalled.cmd.Process.Signal(syscall.SIGSTOP))
	time.Sleep(4 * time.Second) //nolint:forbidigo // the stall itself
	start := time.Now()
	require.NoError(t, stalled.cmd.Process.Signal(syscall.SIGCONT))
	before := stalled.metric(t, "ingress", "component", "reader")
	require.Eventually(t, func() bool { return stalled.metric(t, "ingress", "component", "reader") > before },
		20*time.Second, 20*time.Millisecond, "the stalled nozzle never read again")
	recover := []time.Duration{time.Since(start).Round(time.Millisecond)}
	lg := r.waitLoad()
	nz := r.finish(lg)
	l := r.ledger(lg, nz)
	l.check(t, "stalled nozzle", recover, false, 0)
	assert.Equal(t, uint64(lg.Sent), nz[1].Delivered, "the other shard lost nothing")
}
