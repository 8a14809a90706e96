package connlimit

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLimit(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := New(2)
	lis := l.Listener(raw)
	defer lis.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", raw.Addr().String())
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	dial()
	dial()
	a, b := <-accepted, <-accepted
	// Beyond the limit: closed at once by the server, counted.
	extra := dial()
	require.NoError(t, extra.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = extra.Read(make([]byte, 1))
	require.Error(t, err)
	assert.NotErrorIs(t, err, net.ErrClosed)
	assert.Equal(t, uint64(1), l.Refused())
	assert.Equal(t, 2, l.Open())
	// A slot frees when a connection closes (twice is once).
	require.NoError(t, a.Close())
	_ = a.Close()
	assert.Equal(t, 1, l.Open())
	dial()
	c := <-accepted
	assert.Equal(t, 2, l.Open())
	b.Close()
	c.Close()
	assert.Equal(t, 0, l.Open())
	assert.Equal(t, uint64(1), l.Refused())
}
