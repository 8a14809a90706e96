package connlimittest

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Counts reads a server's open and refused connection counts.
type Counts func() (open int, refused uint64)

// Exceed opens max idle TCP connections to addr, waits until the server
// counts them open, opens one more and checks that the server closes it at
// once and counts it refused. It returns a function that closes the idle
// connections and waits until the server counts none open.
func Exceed(t testing.TB, addr string, max int, counts Counts) (release func()) {
	t.Helper()
	var idle []net.Conn
	for range max {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		idle = append(idle, c)
	}
	require.Eventually(t, func() bool { open, _ := counts(); return open == max }, 10*time.Second, time.Millisecond)
	extra, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	require.NoError(t, extra.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = extra.Read(make([]byte, 1))
	require.Error(t, err)
	assert.False(t, errors.Is(err, os.ErrDeadlineExceeded), "closed by the server, not timed out")
	extra.Close()
	open, refused := counts()
	assert.Equal(t, uint64(1), refused)
	assert.Equal(t, max, open)
	return func() {
		for _, c := range idle {
			c.Close()
		}
		require.Eventually(t, func() bool { open, _ := counts(); return open == 0 }, 10*time.Second, time.Millisecond)
	}
}
