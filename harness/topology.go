package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/ingress"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/limit"
	"github.com/sluicelog/sluice/nozzle"
	"github.com/sluicelog/sluice/telemetry"
)

// Group is a shard group of nozzle instances: every envelope goes to
// exactly one of them.
type Group struct {
	ShardID string
	Nozzles int
	// Slow makes every nozzle of the group consume slowly, to show the
	// slow-consumer signal and where its drops are counted.
	Slow bool
}

// TopologyConfig describes an all-in-one firehose: agents in several zones,
// routers registered in an in-process discovery source, a proxy, and
// nozzles in shard groups subscribing through the proxy.
type TopologyConfig struct {
	Zones          []string      // default z1, z2
	AgentsPerZone  int           // default 2
	RoutersPerZone int           // default 1
	Groups         []Group       // default archive (2 nozzles) and metrics (1)
	Rate           int           // envelopes per second over all load generators (default 10,000)
	Mix            Mix           // default DefaultMix
	PayloadSize    int           // log payload bytes (default 100)
	Acknowledged   bool          // agents use the pool's acknowledged mode
	Plaintext      bool          // no TLS (default: mutual TLS on every gRPC hop)
	SlowDelay      time.Duration // per-envelope delay of slow nozzles (default 1ms)
	// TelemetryInterval, when set, makes every router emit its own stats
	// as envelopes (source ID "doppler") into its ingress buffer, so the
	// firehose carries its health as Loggregator's does.
	TelemetryInterval time.Duration
	// NozzleBuffer is each nozzle's buffer (default 10,000).
	NozzleBuffer int
	// Policy is the agents' and routers' ingress buffer policy (default
	// limit.PolicyRing), and Summarize keeps their heavy-hitter summaries
	// with the ring too (see Topology.HeavyHitters).
	Policy    limit.Policy
	Summarize bool
	// NoisyRate, when positive, adds one source (NoisySource, log
	// envelopes) that the first load generator sends at this rate on top
	// of the mix: a noisy neighbour.
	NoisyRate int
	Logger    *slog.Logger
}

func (c *TopologyConfig) defaults() {
	if len(c.Zones) == 0 {
		c.Zones = []string{"z1", "z2"}
	}
	c.AgentsPerZone = orDefault(c.AgentsPerZone, 2)
	c.RoutersPerZone = orDefault(c.RoutersPerZone, 1)
	if len(c.Groups) == 0 {
		c.Groups = []Group{{ShardID: "archive", Nozzles: 2}, {ShardID: "metrics", Nozzles: 1}}
	}
	c.Rate = orDefault(c.Rate, 10000)
	if c.Mix == (Mix{}) {
		c.Mix = DefaultMix
	}
	c.PayloadSize = orDefault(c.PayloadSize, 100)
	if c.SlowDelay <= 0 {
		c.SlowDelay = time.Millisecond
	}
	c.NozzleBuffer = orDefault(c.NozzleBuffer, 10000)
}

// Nozzle is one nozzle instance: a Reader on the proxy and the goroutine
// consuming it.
type Nozzle struct {
	Group  string
	Reader *nozzle.Reader

	slow   atomic.Bool
	delay  time.Duration
	byKind [6]atomic.Uint64
	done   chan struct{}
}

// Delivered counts what the instance's code consumed, by kind.
func (n *Nozzle) Delivered() (total uint64, byKind map[string]uint64) {
	byKind = map[string]uint64{}
	for k := range n.byKind {
		if v := n.byKind[k].Load(); v > 0 {
			byKind[envelope.Kind(k).String()] = v
			total += v
		}
	}
	return total, byKind
}

// Topology is a running all-in-one firehose.
type Topology struct {
	cfg       TopologyConfig
	Discovery *discovery.Static
	Routers   []*Router
	Agents    []*Agent
	Emitters  []*ingress.Client
	Proxy     *Proxy
	Nozzles   []*Nozzle
	Telemetry []*telemetry.Emitter

	serverTLS, clientTLS *tls.Config
	envs                 [][]byte
	emitted              atomic.Uint64
	mu                   sync.Mutex // guards Routers and stopped
	stopped              map[*Router]bool
	cancel               context.CancelFunc
	wg                   sync.WaitGroup
	telemetryWG          sync.WaitGroup // the routers' emitters
	ready                chan struct{}  // closed when StartTopology has seen every nozzle subscribed
}

// StartTopology starts every part and waits until each nozzle is subscribed
// at every router, so that the load that follows is seen in full.
func StartTopology(ctx context.Context, cfg TopologyConfig) (*Topology, error) {
	cfg.defaults()
	envs, err := cfg.Mix.Envelopes(cfg.PayloadSize)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.Background())
	t := &Topology{cfg: cfg, Discovery: discovery.NewStatic(), envs: envs, stopped: map[*Router]bool{}, cancel: cancel, ready: make(chan struct{})}
	if !cfg.Plaintext {
		_, t.serverTLS, t.clientTLS = mustTLS()
		if t.serverTLS == nil {
			cancel()
			return nil, errors.New("harness: cannot make test certificates")
		}
	}
	fail := func(err error) (*Topology, error) {
		t.Close()
		return nil, err
	}
	for _, z := range cfg.Zones {
		for i := 0; i < cfg.RoutersPerZone; i++ {
			if _, err := t.StartRouter(z); err != nil {
				return fail(err)
			}
		}
	}
	for _, z := range cfg.Zones {
		for i := 0; i < cfg.AgentsPerZone; i++ {
			a, err := StartAgent(t.Discovery, AgentConfig{Zone: z, ServerTLS: t.serverTLS, RouterTLS: t.clientTLS, Acknowledged: cfg.Acknowledged, Logger: cfg.Logger,
				Policy: cfg.Policy, Summarize: cfg.Summarize})
			if err != nil {
				return fail(err)
			}
			t.Agents = append(t.Agents, a)
			opts := []ingress.ClientOption{ingress.WithLogger(orDiscard(cfg.Logger))}
			if t.clientTLS != nil {
				opts = append(opts, ingress.WithTLS(t.clientTLS))
			}
			c, err := ingress.NewClient(a.Addr(), opts...)
			if err != nil {
				return fail(err)
			}
			t.Emitters = append(t.Emitters, c)
		}
	}
	p, err := StartProxy(t.Discovery, ProxyConfig{ServerTLS: t.serverTLS, RouterTLS: t.clientTLS, Logger: cfg.Logger})
	if err != nil {
		return fail(err)
	}
	t.Proxy = p
	for _, g := range cfg.Groups {
		for i := 0; i < g.Nozzles; i++ {
			n, err := t.startNozzle(rctx, g)
			if err != nil {
				return fail(err)
			}
			t.Nozzles = append(t.Nozzles, n)
		}
	}
	if err := WaitFor(ctx, t.subscribed); err != nil {
		return fail(fmt.Errorf("harness: nozzles did not subscribe at every router: %w", err))
	}
	close(t.ready)
	return t, nil
}

// StartRouter starts one more router in zone and registers it.
func (t *Topology) StartRouter(zone string) (*Router, error) {
	t.mu.Lock()
	id := "router-" + strconv.Itoa(len(t.Routers))
	t.mu.Unlock()
	r, err := StartRouter(RouterConfig{ID: id, Zone: zone, TLS: t.serverTLS, Logger: t.cfg.Logger, Policy: t.cfg.Policy, Summarize: t.cfg.Summarize})
	if err != nil {
		return nil, err
	}
	if t.cfg.TelemetryInterval > 0 {
		em, err := telemetry.NewEmitter("doppler", r.Buffer, r.Components(), telemetry.WithInterval(t.cfg.TelemetryInterval),
			telemetry.WithLabels(map[string]string{"job": "router", "index": id, "zone": zone}))
		if err != nil {
			r.Close()
			return nil, err
		}
		t.Telemetry = append(t.Telemetry, em)
		ctx, cancel := context.WithCancel(context.Background())
		r.onStop = append(r.onStop, cancel)
		t.wg.Add(1)
		t.telemetryWG.Add(1)
		go func() {
			defer t.wg.Done()
			defer t.telemetryWG.Done()
			// Emit only once every nozzle subscribes at this router: an
			// emission before that would be routed to nobody yet counted
			// as sent, and the books would not close.
			select {
			case <-t.ready:
			case <-ctx.Done():
				return
			}
			if WaitFor(ctx, t.subscribed) != nil {
				return
			}
			_ = em.Run(ctx)
		}()
	}
	t.mu.Lock()
	t.Routers = append(t.Routers, r)
	t.mu.Unlock()
	t.register()
	return r, nil
}

// register publishes the running routers in the discovery source.
func (t *Topology) register() {
	t.mu.Lock()
	var eps []discovery.Endpoint
	for _, r := range t.Routers {
		if !t.stopped[r] {
			eps = append(eps, r.Endpoint())
		}
	}
	t.mu.Unlock()
	t.Discovery.Set(eps...)
}

// StopRouter stops router r abruptly (as a crash would, but counting what
// it discards) and removes it from discovery, as its lease would expire.
func (t *Topology) StopRouter(r *Router) {
	t.mu.Lock()
	t.stopped[r] = true
	t.mu.Unlock()
	r.Close()
	t.register()
}

func (t *Topology) startNozzle(ctx context.Context, g Group) (*Nozzle, error) {
	req := &envelope.EgressBatchRequest{ShardId: g.ShardID, Selectors: allKinds()}
	opts := []nozzle.ReaderOption{nozzle.WithBufferSize(t.cfg.NozzleBuffer), nozzle.WithLogger(orDiscard(t.cfg.Logger))}
	if t.clientTLS != nil {
		opts = append(opts, nozzle.WithTLS(t.clientTLS))
	}
	rd, err := nozzle.NewReader(t.Proxy.Addr(), req, opts...)
	if err != nil {
		return nil, err
	}
	n := &Nozzle{Group: g.ShardID, Reader: rd, delay: t.cfg.SlowDelay, done: make(chan struct{})}
	n.slow.Store(g.Slow)
	go func() {
		defer close(n.done)
		for {
			b, err := rd.Next(ctx)
			if err != nil {
				return
			}
			r, err := envelope.ReadRoute(b)
			if err == nil {
				n.byKind[r.Kind].Add(1)
			}
			if n.slow.Load() {
				time.Sleep(n.delay)
			}
		}
	}()
	return n, nil
}

func allKinds() []*envelope.Selector {
	return []*envelope.Selector{
		{Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}},
		{Message: &envelope.Selector_Counter{Counter: &envelope.CounterSelector{}}},
		{Message: &envelope.Selector_Gauge{Gauge: &envelope.GaugeSelector{}}},
		{Message: &envelope.Selector_Timer{Timer: &envelope.TimerSelector{}}},
		{Message: &envelope.Selector_Event{Event: &envelope.EventSelector{}}},
	}
}

// subscribed reports whether every router has a subscription for every
// nozzle (one per Firehose); a caller's own nozzles may add more.
func (t *Topology) subscribed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range t.Routers {
		if !t.stopped[r] && r.Router.Stats().Subscriptions < len(t.Nozzles) {
			return false
		}
	}
	return true
}

// Load sends envelopes of the mix at the configured rate for duration (or
// until ctx ends), spread over the load generators, and returns how many it
// emitted.
func (t *Topology) Load(ctx context.Context, duration time.Duration) uint64 {
	var wg sync.WaitGroup
	var total atomic.Uint64
	per := t.cfg.Rate / len(t.Emitters)
	extra := t.cfg.Rate % len(t.Emitters)
	for i, c := range t.Emitters {
		rate := per
		if i < extra {
			rate++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := Pace(ctx, rate, duration, func(j int) {
				c.EmitBytes(t.envs[(i*7+j)%len(t.envs)])
				t.emitted.Add(1)
			})
			total.Add(uint64(n))
		}()
	}
	if t.cfg.NoisyRate > 0 && len(t.Emitters) > 0 {
		noisy, err := noisyEnvelope(NoisySource)
		if err == nil {
			c := t.Emitters[0]
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := Pace(ctx, t.cfg.NoisyRate, duration, func(int) {
					c.EmitBytes(noisy)
					t.emitted.Add(1)
				})
				total.Add(uint64(n))
			}()
		}
	}
	wg.Wait()
	return total.Load()
}

// Drain stops the load side and lets every hop deliver what it holds, in
// order (emitters, agents, routers, proxy, nozzles), then stops the
// nozzles. After Drain the Report's counts are final.
func (t *Topology) Drain(ctx context.Context) error {
	var errs []error
	for _, c := range t.Emitters {
		if err := c.Shutdown(ctx); err != nil && !errors.Is(err, ingress.ErrClientClosed) {
			errs = append(errs, err)
		}
	}
	for _, a := range t.Agents {
		errs = append(errs, a.Shutdown(ctx))
	}
	// Routers keep running (their telemetry too) until their buffers and
	// subscriptions are empty; then telemetry stops and they drain again.
	errs = append(errs, WaitFor(ctx, t.quiet))
	t.cancelTelemetry()
	for _, n := range t.Nozzles {
		n.slow.Store(false) // let slow consumers catch up so the books close
	}
	errs = append(errs, WaitFor(ctx, t.quiet))
	t.mu.Lock()
	routers := append([]*Router(nil), t.Routers...)
	t.mu.Unlock()
	for _, r := range routers {
		if !t.stopped[r] {
			errs = append(errs, r.Shutdown(ctx))
		}
	}
	errs = append(errs, t.Proxy.Shutdown(ctx))
	for _, n := range t.Nozzles {
		errs = append(errs, n.Reader.Shutdown(ctx))
		<-n.done
	}
	t.cancel()
	t.wg.Wait()
	return errors.Join(errs...)
}

// cancelTelemetry stops the routers' emitters and waits until each has
// written its final emission into its router's buffer, so that what the
// Report counts as sent is there to be drained.
func (t *Topology) cancelTelemetry() {
	t.mu.Lock()
	for _, r := range t.Routers {
		for _, f := range r.onStop {
			f()
		}
	}
	t.mu.Unlock()
	t.telemetryWG.Wait()
}

// quiet reports whether nothing is held anywhere and the counts stand
// still between two looks 50ms apart.
func (t *Topology) quiet() bool {
	before := t.Report()
	time.Sleep(50 * time.Millisecond)
	after := t.Report()
	return after.Held == 0 && before.fingerprint() == after.fingerprint()
}

// Close stops everything at once.
func (t *Topology) Close() {
	for _, c := range t.Emitters {
		_ = c.Close()
	}
	for _, a := range t.Agents {
		a.Close()
	}
	t.mu.Lock()
	routers := append([]*Router(nil), t.Routers...)
	t.mu.Unlock()
	for _, r := range routers {
		r.Close()
	}
	if t.Proxy != nil {
		t.Proxy.Close()
	}
	for _, n := range t.Nozzles {
		n.Reader.Close()
		<-n.done
	}
	if t.cancel != nil {
		t.cancel()
	}
	t.cancelTelemetry()
	t.wg.Wait()
}

func mustTLS() (*testtls.CA, *tls.Config, *tls.Config) {
	ca, err := testtls.NewCA("sluice-demo-ca")
	if err != nil {
		return nil, nil, nil
	}
	server, err := ca.ServerConfig(true)
	if err != nil {
		return nil, nil, nil
	}
	client, err := ca.ClientConfig()
	if err != nil {
		return nil, nil, nil
	}
	return ca, server, client
}

func sortedCauses(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
