package drain

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
)

// ErrClosed is returned by Publish and SetBindings after Shutdown or Close.
var ErrClosed = errors.New("drain: manager closed")

// Manager delivers each source's envelopes to the drains bound to it.
// Publish never blocks: every drain has its own buffer, goroutine and
// connection, so a slow or dead drain loses its own envelopes (counted)
// and nobody else's. Safe for concurrent use.
type Manager struct {
	cfg config

	table atomic.Pointer[map[string][]*sink] // source ID -> drains; copy on write

	pubMu  sync.RWMutex // Publish against Close
	closed bool

	mu      sync.Mutex // bindings, sinks, refused, retired
	sinks   map[string]*sink
	refused map[string]string // key -> cause, of the current set
	retired Stats             // sums of drains that were removed

	ingress, unbound, filtered, malformed atomic.Uint64
	refusals                              sync.Map // cause -> *atomic.Uint64
	sourceErrors, reports                 atomic.Uint64

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// NewManager returns a running Manager. With WithSource it loads the
// bindings before returning (a failing source is counted, not fatal).
func NewManager(opts ...Option) (*Manager, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	m := &Manager{cfg: cfg, sinks: make(map[string]*sink), refused: make(map[string]string)}
	m.table.Store(&map[string][]*sink{})
	ctx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	if cfg.source != nil {
		m.refresh(ctx)
		m.wg.Add(1)
		go m.every(ctx, cfg.refresh, func() { m.refresh(ctx) })
	}
	m.wg.Add(1)
	go m.every(ctx, cfg.lossEvery, m.reportLoss)
	return m, nil
}

func (m *Manager) every(ctx context.Context, d time.Duration, f func()) {
	defer m.wg.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

func (m *Manager) refresh(ctx context.Context) {
	bs, err := m.cfg.source.Bindings(ctx)
	if err != nil && !errors.Is(err, ErrInvalidBinding) {
		m.sourceErrors.Add(1)
		m.cfg.log.Warn("drain: binding source failed; keeping the bindings known", "err", err)
		return
	}
	if err != nil {
		m.count("invalid", 1)
		m.cfg.log.Warn("drain: binding source refused bindings", "err", err)
	}
	_ = m.SetBindings(bs)
}

// SetBindings replaces the bindings: drains of new bindings start, drains
// of bindings no longer present close (what they held is counted dropped,
// "closed"), the others keep running. It returns the refused bindings'
// errors joined (each wraps ErrInvalidBinding or ErrTooManyDrains); a
// refusal is counted once while the binding stays refused.
func (m *Manager) SetBindings(bs []Binding) error {
	m.pubMu.RLock()
	defer m.pubMu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	m.mu.Lock()
	defer m.mu.Unlock()

	var errs []error
	refused := make(map[string]string)
	refuse := func(key, cause string, err error) {
		errs = append(errs, err)
		refused[key] = cause
		if m.refused[key] != cause {
			m.count(cause, 1)
			m.cfg.log.Warn("drain: binding refused", "err", err)
		}
	}
	bySource := make(map[string][]target)
	seen := make(map[string]bool)
	for _, b := range bs {
		t, err := parseBinding(b)
		if err != nil {
			refuse("invalid\x00"+b.SourceID+"\x00"+b.URL+"\x00"+b.Hostname, "invalid", err)
			continue
		}
		if !seen[t.key] {
			seen[t.key] = true
			bySource[t.sourceID] = append(bySource[t.sourceID], t)
		}
	}
	// Per source: keep the first drains in URL order (as Loggregator).
	wanted := make([]target, 0, len(seen))
	for _, ts := range bySource {
		slices.SortFunc(ts, func(a, b target) int { return cmp.Compare(a.key, b.key) })
		for i, t := range ts {
			if i >= m.cfg.perSource {
				refuse(t.key, "per_source_cap", fmt.Errorf("%w: source %q has %d drains, at most %d: %s refused", ErrTooManyDrains, t.sourceID, len(ts), m.cfg.perSource, t.name))
				continue
			}
			wanted = append(wanted, t)
		}
	}
	// Drains already running keep their place under the connection cap.
	slices.SortFunc(wanted, func(a, b target) int {
		_, ra := m.sinks[a.key]
		_, rb := m.sinks[b.key]
		if ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.key, b.key)
	})
	next := make(map[string]*sink, len(wanted))
	for _, t := range wanted {
		if len(next) >= m.cfg.maxConns {
			refuse(t.key, "connection_cap", fmt.Errorf("%w: %d connections, at most %d: %s of source %q refused", ErrTooManyDrains, len(wanted), m.cfg.maxConns, t.name, t.sourceID))
			continue
		}
		if s := m.sinks[t.key]; s != nil {
			next[t.key] = s
			continue
		}
		s, err := newSink(t, &m.cfg)
		if err != nil {
			refuse(t.key, "invalid", err)
			continue
		}
		next[t.key] = s
	}
	table := make(map[string][]*sink)
	for _, s := range next {
		table[s.t.sourceID] = append(table[s.t.sourceID], s)
	}
	m.table.Store(&table)
	for key, s := range m.sinks {
		if next[key] == nil {
			s.close()
			m.retired = m.retired.add(s.stats())
		}
	}
	m.sinks, m.refused = next, refused
	return errors.Join(errs...)
}

func (m *Manager) count(cause string, n uint64) {
	v, _ := m.refusals.LoadOrStore(cause, new(atomic.Uint64))
	v.(*atomic.Uint64).Add(n)
}

// Publish delivers one envelope, given as its wire bytes, to the drains of
// its source that want its kind. It never blocks. An envelope whose source
// has no drain costs a read of its routing fields; otherwise it is decoded
// once and shared by the drains. Malformed bytes are counted and refused.
func (m *Manager) Publish(b []byte) error {
	m.pubMu.RLock()
	defer m.pubMu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	rt, err := envelope.ReadRoute(b)
	if err != nil {
		m.malformed.Add(1)
		return fmt.Errorf("drain: publish: %w", err)
	}
	m.ingress.Add(1)
	sinks := m.wanting(rt.SourceID, rt.Kind)
	if len(sinks) == 0 {
		return nil
	}
	e := new(envelope.Envelope)
	if err := proto.Unmarshal(b, e); err != nil {
		m.malformed.Add(1)
		return fmt.Errorf("drain: publish: %w", err)
	}
	for _, s := range sinks {
		if s.t.kinds.has(rt.Kind) {
			s.set(e)
		}
	}
	return nil
}

// PublishEnvelope is Publish for a decoded envelope, which the drains
// share: do not change it afterwards.
func (m *Manager) PublishEnvelope(e *envelope.Envelope) error {
	m.pubMu.RLock()
	defer m.pubMu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	m.ingress.Add(1)
	k := e.Kind()
	for _, s := range m.wanting(e.GetSourceId(), k) {
		if s.t.kinds.has(k) {
			s.set(e)
		}
	}
	return nil
}

// wanting returns the source's drains when one of them wants kind k, and
// counts the envelope unbound or filtered otherwise.
func (m *Manager) wanting(sourceID string, k envelope.Kind) []*sink {
	sinks := (*m.table.Load())[sourceID]
	if len(sinks) == 0 {
		m.unbound.Add(1)
		return nil
	}
	for _, s := range sinks {
		if s.t.kinds.has(k) {
			return sinks
		}
	}
	m.filtered.Add(1)
	return nil
}

// Run publishes what buf yields until ctx ends, then what buf still holds,
// and returns ctx's error (ErrClosed once the Manager is closed). It is
// what a syslog agent runs after its ingress buffer.
func (m *Manager) Run(ctx context.Context, buf diode.Buffer[[]byte]) error {
	for {
		b, err := buf.Next(ctx)
		if err != nil {
			for b, ok := buf.TryNext(); ok; b, ok = buf.TryNext() {
				if errors.Is(m.Publish(b), ErrClosed) {
					return ErrClosed
				}
			}
			return err
		}
		if errors.Is(m.Publish(b), ErrClosed) {
			return ErrClosed
		}
	}
}

// reportLoss tells each drain's owner how many envelopes it dropped since
// the last report.
func (m *Manager) reportLoss() {
	m.mu.Lock()
	var reports []*envelope.Envelope
	for _, s := range m.sinks {
		if n := s.unreported.Swap(0); n > 0 {
			reports = append(reports, lossReport(s, n))
		}
	}
	m.mu.Unlock()
	for _, e := range reports {
		// Counted only when it went somewhere: after Shutdown or Close
		// the Manager refuses its own report.
		if m.cfg.emitter != nil {
			m.cfg.emitter.Emit(e)
			m.reports.Add(1)
		} else if m.PublishEnvelope(e) == nil {
			m.reports.Add(1)
		}
	}
}

func lossReport(s *sink, n uint64) *envelope.Envelope {
	msg := fmt.Sprintf("%d envelopes dropped for drain %s", n, s.t.name)
	return envelope.NewLog(s.t.sourceID, []byte(msg), envelope.WithLogType(envelope.Log_ERR), envelope.WithTag("source_type", "LGR"))
}

// Shutdown stops taking envelopes (Publish returns ErrClosed), lets every
// drain deliver what it holds, and closes. When ctx ends first the drains
// still running close at once (what they held counts dropped, "closed")
// and ctx's error is returned. Safe to call more than once.
func (m *Manager) Shutdown(ctx context.Context) error {
	sinks := m.closeInput()
	var wg sync.WaitGroup
	errs := make([]error, len(sinks))
	for i, s := range sinks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.shutdown(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return ctx.Err()
	}
	return nil
}

// Close stops at once: drains close their connections and count what they
// held as dropped ("closed"). Idempotent; it waits for every goroutine.
func (m *Manager) Close() error {
	for _, s := range m.closeInput() {
		s.close()
	}
	return nil
}

func (m *Manager) closeInput() []*sink {
	m.pubMu.Lock()
	m.closed = true
	m.pubMu.Unlock()
	m.stop()
	m.wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	sinks := make([]*sink, 0, len(m.sinks))
	for _, s := range m.sinks {
		sinks = append(sinks, s)
	}
	return sinks
}
