package connlimit

import (
	"net"
	"sync"
	"sync/atomic"

	"github.com/sluicelog/sluice/stats"
)

// Limit counts the connections open through its listeners.
type Limit struct {
	max     int64
	open    atomic.Int64
	refused atomic.Uint64
}

// New returns a Limit of max open connections; max < 1 means no limit.
func New(max int) *Limit { return &Limit{max: int64(max)} }

// Listener wraps lis so that its connections count against l.
func (l *Limit) Listener(lis net.Listener) net.Listener { return &listener{Listener: lis, l: l} }

// Open returns the connections open now.
func (l *Limit) Open() int { return int(l.open.Load()) }

// Refused returns how many connections were closed at once because the
// limit was reached.
func (l *Limit) Refused() uint64 { return l.refused.Load() }

type listener struct {
	net.Listener
	l *Limit
}

// Accept returns the next connection within the limit; those beyond it
// are closed as they come (the peer sees its connection closed at once,
// which clients take as a reason to back off).
func (lis *listener) Accept() (net.Conn, error) {
	for {
		c, err := lis.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if n := lis.l.open.Add(1); lis.l.max > 0 && n > lis.l.max {
			lis.l.open.Add(-1)
			lis.l.refused.Add(1)
			_ = c.Close()
			continue
		}
		return &conn{Conn: c, l: lis.l}, nil
	}
}

type conn struct {
	net.Conn
	l    *Limit
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}

// Report emits the gauge connections (open now) and the counter
// refused_connections.
func (l *Limit) Report(emit func(stats.Metric)) {
	emit(stats.GaugeOf("connections", "Connections open now.", float64(l.Open())))
	emit(stats.CounterOf("refused_connections", "Connections closed at once because the connection limit was reached.", l.Refused()))
}
