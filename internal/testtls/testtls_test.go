package testtls

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMutualTLSHandshake(t *testing.T) {
	ca, server, client := Must(t)
	lis, err := tls.Listen("tcp", "127.0.0.1:0", server)
	require.NoError(t, err)
	defer lis.Close()
	done := make(chan error, 1)
	go func() {
		c, err := lis.Accept()
		if err == nil {
			err = c.(*tls.Conn).Handshake()
			c.Close()
		}
		done <- err
	}()
	c, err := tls.Dial("tcp", lis.Addr().String(), client)
	require.NoError(t, err)
	c.Close()
	require.NoError(t, <-done)

	// A client of another CA is refused.
	other, err := NewCA("other")
	require.NoError(t, err)
	bad, err := other.ClientConfig()
	require.NoError(t, err)
	bad.RootCAs = ca.Pool()
	go func() {
		c, err := lis.Accept()
		if err == nil {
			err = c.(*tls.Conn).Handshake()
			c.Close()
		}
		done <- err
	}()
	conn, err := net.Dial("tcp", lis.Addr().String())
	require.NoError(t, err)
	tc := tls.Client(conn, bad)
	_ = tc.Handshake()
	tc.Close()
	require.Error(t, <-done)
}
