package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sluicelog/sluice/internal/testtls"
)

// certs are the PEM files of one mutual-TLS setup: a CA, the router's
// certificate and the load generator's client certificate.
type certs struct {
	CA, ServerCert, ServerKey string
	clientPEM, clientKeyPEM   []byte
	caPEM                     []byte
}

// writeCerts makes a throwaway CA and certificates in dir.
func writeCerts(dir string) (*certs, error) {
	ca, err := testtls.NewCA("routerbench-ca")
	if err != nil {
		return nil, err
	}
	_, srvPEM, srvKey, err := ca.Issue("localhost")
	if err != nil {
		return nil, err
	}
	_, cliPEM, cliKey, err := ca.Issue("routerbench")
	if err != nil {
		return nil, err
	}
	c := &certs{
		CA:         filepath.Join(dir, "ca.pem"),
		ServerCert: filepath.Join(dir, "server.pem"),
		ServerKey:  filepath.Join(dir, "server-key.pem"),
		clientPEM:  cliPEM, clientKeyPEM: cliKey, caPEM: ca.PEM(),
	}
	for path, b := range map[string][]byte{c.CA: ca.PEM(), c.ServerCert: srvPEM, c.ServerKey: srvKey} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// buildRouter builds examples/router (or with relay, the relay under
// examples/routerbench/relay) into dir with `go build` and returns the
// binary's path.
func buildRouter(ctx context.Context, dir string, relay bool, stderr io.Writer) (string, error) {
	name, pkg := "router", "github.com/sluicelog/sluice/examples/router"
	if relay {
		name, pkg = "relay", "github.com/sluicelog/sluice/examples/routerbench/relay"
	}
	bin := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("routerbench: go build %s: %w", pkg, err)
	}
	return bin, nil
}

// routerProc is a running router program.
type routerProc struct {
	cmd     *exec.Cmd
	Addr    string
	metrics string // URL of /metrics
	exited  chan struct{}
	err     error // Wait's, after exited is closed
}

// startRouter starts the router binary with mutual TLS, the given buffer
// sizes and the extra flags, and waits for the address line it prints.
func startRouter(bin string, c *certs, buffer, subBuffer int, cpuProfile string, extra []string, stderr io.Writer) (*routerProc, error) {
	args := []string{
		"-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0", "-log-level", "error",
		"-tls-cert", c.ServerCert, "-tls-key", c.ServerKey, "-tls-ca", c.CA,
		"-buffer", strconv.Itoa(buffer), "-shutdown-timeout", "5s",
	}
	if subBuffer > 0 {
		args = append(args, "-subscription-buffer", strconv.Itoa(subBuffer))
	}
	if cpuProfile != "" {
		args = append(args, "-cpuprofile", cpuProfile)
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &routerProc{cmd: cmd, exited: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, out)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			<-p.exited
			return nil, fmt.Errorf("routerbench: router exited before listening: %v", p.err)
		}
		f := strings.Fields(line)
		p.Addr = f[0]
		for _, kv := range f[1:] {
			if v, ok := strings.CutPrefix(kv, "metrics="); ok {
				p.metrics = v
			}
		}
		return p, nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-p.exited
		return nil, errors.New("routerbench: router did not print its address within 30 s")
	}
}

// Pid returns the router's process ID.
func (p *routerProc) Pid() int { return p.cmd.Process.Pid }

// Stop asks the router to shut down (SIGTERM) and waits; it kills it when
// it has not exited after 15 s.
func (p *routerProc) Stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return errors.New("routerbench: router did not stop within 15 s; killed")
	}
	return p.err
}

// routerCounts are the router's own counters, read from /metrics.
type routerCounts struct {
	Ingress        uint64 // accepted by the Ingress server
	IngressDropped uint64 // lost in the ingress diode, or shed before it (-shed-when-full)
	Shed           uint64 // shed at the edge (included in IngressDropped)
	EgressDropped  uint64 // lost in the subscriptions' diodes (any cause)
	GCs            uint64 // garbage collections so far
	Waits          uint64 // ingress streams' waits for room (-wait-when-full)
	Subscriptions  int    // open subscriptions
}

// scrape reads the router's counters from its /metrics.
func (p *routerProc) scrape(ctx context.Context) (routerCounts, error) {
	var rc routerCounts
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.metrics, nil)
	if err != nil {
		return rc, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rc, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		n := uint64(v)
		series := line[:i]
		switch {
		case strings.HasPrefix(series, "ingress{") && strings.Contains(series, `component="ingress_server"`):
			rc.Ingress += n
		case strings.HasPrefix(series, "dropped{") && strings.Contains(series, `direction="ingress"`) && strings.Contains(series, `component="ingress_server"`):
			rc.IngressDropped += n
			if strings.Contains(series, `cause="shed"`) {
				rc.Shed += n
			}
		case strings.HasPrefix(series, "dropped{") && strings.Contains(series, `direction="egress"`) && strings.Contains(series, `component="router"`):
			rc.EgressDropped += n
		case strings.HasPrefix(series, "subscriptions{") && strings.Contains(series, `component="router"`):
			rc.Subscriptions = int(n)
		case strings.HasPrefix(series, "ingress_waits{") && strings.Contains(series, `component="ingress_server"`):
			rc.Waits += n
		case series == "go_gc_duration_seconds_count":
			rc.GCs = n
		}
	}
	return rc, sc.Err()
}
