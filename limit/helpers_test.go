package limit_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/buftest"
)

// env returns a marshaled log envelope of source id.
func env(t testing.TB, id string) []byte {
	t.Helper()
	b, err := proto.Marshal(envelope.NewLog(id, []byte("hello"),
		envelope.WithTag("deployment", "cf"), envelope.WithTag("job", "diego-cell"), envelope.WithTag("index", "5d3e1f2a")))
	require.NoError(t, err)
	return b
}

// fakeClock is a clock the test steps by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// drain reads everything buf holds now (buftest.Drain; the name stays so
// that the package's tests read as they did).
func drain(buf diode.Buffer[[]byte]) [][]byte { return buftest.Drain(buf) }
