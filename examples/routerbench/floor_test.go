//go:build linux

package main

import (
	"crypto/tls"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/internal/testtls"
)

// BenchmarkTLSRelayFloor measures the least any router pays to move the
// bench's envelopes over mutual TLS on loopback, without HTTP/2 or gRPC:
// one goroutine, locked to its thread, reads batches of 100 envelopes
// (24,200 bytes) from one TLS connection and writes each to another, while
// a sender and a reader on other threads keep both ends busy. It reports
// that thread's CPU time (user and system, RUSAGE_THREAD, which includes
// the kernel's loopback work done on its behalf) as CPU-seconds per
// million envelopes, the unit of routerbench's cpu-s/M. The relay program
// (examples/routerbench/relay) adds grpc-go's transport to this; the
// router adds its own work to that.
//
//	go test -run '^$' -bench TLSRelayFloor -benchtime 20000x ./examples/routerbench
func BenchmarkTLSRelayFloor(b *testing.B) {
	const batch = BatchSize * 242 // 100 envelopes of 239 bytes, framed
	_, serverTLS, clientTLS := testtls.Must(b)
	in, out := tlsPair(b, serverTLS, clientTLS), tlsPair(b, serverTLS, clientTLS)
	msg := make([]byte, batch)
	for i := range msg {
		msg[i] = byte(i)
	}
	n := b.N
	sendErr, readErr := make(chan error, 1), make(chan error, 1)
	go func() {
		for range n {
			if _, err := in.client.Write(msg); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- nil
	}()
	go func() {
		_, err := io.CopyN(io.Discard, out.client, int64(n)*batch)
		readErr <- err
	}()
	var cpu int64
	relayErr := make(chan error, 1)
	b.ResetTimer()
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		buf := make([]byte, batch)
		start, err := threadCPU()
		if err != nil {
			relayErr <- err
			return
		}
		for range n {
			if _, err := io.ReadFull(in.server, buf); err != nil {
				relayErr <- err
				return
			}
			if _, err := out.server.Write(buf); err != nil {
				relayErr <- err
				return
			}
		}
		end, err := threadCPU()
		cpu = end - start
		relayErr <- err
	}()
	require.NoError(b, <-relayErr)
	require.NoError(b, <-sendErr)
	require.NoError(b, <-readErr)
	b.StopTimer()
	b.ReportMetric(float64(cpu)/float64(n*BatchSize)/1e3, "cpu-s/M")
}

// tlsConns is a TLS connection over loopback, both ends.
type tlsConns struct{ server, client *tls.Conn }

// tlsPair connects a mutual-TLS client to a server over loopback and
// finishes the handshake; both ends are closed when b ends.
func tlsPair(b *testing.B, serverTLS, clientTLS *tls.Config) tlsConns {
	b.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	defer lis.Close()
	accepted := make(chan *tls.Conn, 1)
	go func() {
		defer close(accepted)
		raw, err := lis.Accept()
		if err != nil {
			return
		}
		c := tls.Server(raw, serverTLS)
		if err := c.Handshake(); err != nil {
			_ = c.Close()
			return
		}
		accepted <- c
	}()
	client, err := tls.Dial("tcp", lis.Addr().String(), clientTLS)
	require.NoError(b, err)
	server, ok := <-accepted
	require.True(b, ok, "accept or server handshake failed")
	b.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return tlsConns{server: server, client: client}
}

// threadCPU returns the calling thread's user and system time in
// nanoseconds.
func threadCPU() (int64, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0, err
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), nil
}
