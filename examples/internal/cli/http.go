package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/sluicelog/sluice/internal/connlimit"
)

// HTTPServer is an http.Server serving one handler on one listener, with
// TLS when it was given a config.
type HTTPServer struct {
	srv  *http.Server
	url  string
	done chan struct{}
	// Conns counts the server's connections (a stats.Reporter for
	// /metrics).
	Conns *connlimit.Limit
}

// ServeHTTP serves h at addr under path (for example the gateway's
// "/v2/read"), with TLS when cfg is not nil, holding at most maxConns
// connections at once (0: no limit; see Conns). Its URL is the base URL
// ("http://host:port" or "https://host:port").
func ServeHTTP(addr, path string, h http.Handler, cfg *tls.Config, maxConns int) (*HTTPServer, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	conns := connlimit.New(maxConns)
	lis = conns.Listener(lis)
	scheme := "http"
	if cfg != nil {
		scheme = "https"
		lis = tls.NewListener(lis, cfg)
	}
	mux := http.NewServeMux()
	mux.Handle(path, h)
	s := &HTTPServer{
		srv:   &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute},
		url:   scheme + "://" + lis.Addr().String(),
		done:  make(chan struct{}),
		Conns: conns,
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(lis)
	}()
	return s, nil
}

// URL is the base URL ("" for a nil server).
func (s *HTTPServer) URL() string {
	if s == nil {
		return ""
	}
	return s.url
}

// Shutdown stops listening and waits for open requests within ctx. A nil
// server does nothing.
func (s *HTTPServer) Shutdown(ctx context.Context) error {
	if s == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}

// Close stops the server at once. A nil server does nothing.
func (s *HTTPServer) Close() error {
	if s == nil {
		return nil
	}
	err := s.srv.Close()
	<-s.done
	return err
}
