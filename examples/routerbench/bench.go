package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/wire"
)

// BatchSize is how many envelopes each BatchSender message carries.
const BatchSize = 100

// Config is a study's shape.
type Config struct {
	Rates       []int         // offered envelopes per second, all senders together; 0 is flat out
	Senders     int           // BatchSender streams, each on its own connection (1 to 4)
	Subscribers int           // BatchedReceiver subscribers (1 or 2)
	Split       bool          // two subscribers share one shard ID (each gets a share) instead of one each (each gets a copy)
	Duration    time.Duration // how long each rate is offered
	Runs        int           // runs per rate, each against a fresh router process
	Buffer      int           // the router's ingress diode (envelopes)
	SubBuffer   int           // the router's per-subscription diode (envelopes; 0: its own default)
	ProfileDir  string        // when set, the router writes cpu-<rate>-<run>.pprof here
	Router      string        // the router binary
	Relay       bool          // build the relay (examples/routerbench/relay) instead of the router when Router is empty
	RouterArgs  []string      // more flags for the router (e.g. -shed-when-full, -grpc-read-buffer 65536)
	SubWindow   int           // subscribers' HTTP/2 receive window in bytes (0: grpc-go's, estimated from 64 KiB)
	SenderBuf   int           // envelopes the senders buffer, all together, while the router reads nothing (an agent's diode); beyond it they drop and count
	certs       *certs
}

// Step is what one run at one offered rate did.
type Step struct {
	Rate        int // offered envelopes per second; 0 is flat out
	Run         int
	Senders     int
	Subscribers int
	Split       bool
	Window      time.Duration // how long the senders sent
	Sent        uint64        // envelopes the router confirmed reading (every stream ended OK)
	// What the senders were offered (the paced rate over the window; for
	// flat out, what they sent) and what they dropped at their edge
	// because the router pushed back and their buffer was full. Offered -
	// Sent - SenderDropped were still in the senders' buffers at the end.
	Offered, SenderDropped uint64
	Expected               uint64 // deliveries that would mean no loss: Sent per shard ID
	Delivered              uint64 // envelopes the subscribers received, all together
	// The router's own counts: lost in its ingress diode or shed before it
	// (each such envelope misses every shard ID), and lost in its
	// subscription diodes.
	IngressDropped, EgressDropped uint64
	CPU                           time.Duration // router utime + stime from the start of sending until delivery settled
	RSS, PeakRSS                  uint64        // router resident set at the end, and its peak (VmHWM)
	GCs                           uint64        // garbage collections in the router over the run
	Waits                         uint64        // the router's ingress streams' waits for room (-wait-when-full)
	// The router's read-type and write-type system calls over the same
	// window as CPU (/proc/PID/io syscr, syscw).
	SysReads, SysWrites uint64
	// Switches counts the router's threads' voluntary context switches
	// over the same window (procSwitches): thread sleeps, each ended by a
	// wake-up.
	Switches uint64
}

// PerThousand returns n per thousand envelopes delivered.
func (s Step) PerThousand(n uint64) float64 {
	if s.Delivered == 0 {
		return 0
	}
	return float64(n) / float64(s.Delivered) * 1000
}

// Loss is the share of expected deliveries that did not happen.
func (s Step) Loss() float64 {
	if s.Expected == 0 {
		return 0
	}
	return 1 - float64(s.Delivered)/float64(s.Expected)
}

// OfferedLoss is the share of the deliveries the offered envelopes would
// have made that did not happen: the senders' drops and backlog as well
// as the router's loss.
func (s Step) OfferedLoss() float64 {
	if s.Offered == 0 || s.Sent == 0 {
		return 0
	}
	want := float64(s.Offered) * float64(s.Expected) / float64(s.Sent)
	return 1 - float64(s.Delivered)/want
}

// CPUPerMillion is router CPU-seconds per million envelopes delivered.
func (s Step) CPUPerMillion() float64 {
	if s.Delivered == 0 {
		return 0
	}
	return s.CPU.Seconds() / float64(s.Delivered) * 1e6
}

// SentRate is the rate actually sent, in envelopes per second.
func (s Step) SentRate() float64 {
	if s.Window <= 0 {
		return 0
	}
	return float64(s.Sent) / s.Window.Seconds()
}

// benchEnvelope is a log envelope of 239 bytes: a 100-byte payload, a
// 36-character source ID, an instance ID and three tags (a cell's index is
// a GUID in Cloud Foundry).
func benchEnvelope() *envelope.Envelope {
	return envelope.NewLog("9f1c2b7e-6a41-4d3e-8c55-0b7a2e19d4f3", bytes.Repeat([]byte("x"), 100),
		envelope.WithInstanceID("0"),
		envelope.WithTag("deployment", "cf"),
		envelope.WithTag("job", "diego-cell"),
		envelope.WithTag("index", "5d3e1f2a-9c47-4b1e-8f6d-2a7e3c9b1d05"),
	)
}

// benchBatch returns one EnvelopeBatch of BatchSize benchEnvelopes,
// marshaled, and the size of one envelope.
func benchBatch() ([]byte, int, error) {
	one, err := proto.Marshal(benchEnvelope())
	if err != nil {
		return nil, 0, err
	}
	envs := make([][]byte, BatchSize)
	for i := range envs {
		envs[i] = one
	}
	return envelope.AppendBatch(nil, envs), len(one), nil
}

func (c *certs) clientTLS() (*tls.Config, error) {
	pair, err := tls.X509KeyPair(c.clientPEM, c.clientKeyPEM)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.caPEM) {
		return nil, errors.New("routerbench: bad CA")
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}, nil
}

// runStep starts a fresh router, subscribes, offers rate for cfg.Duration
// over cfg.Senders streams, waits until delivery settles and reads the
// router's CPU time, memory and counters.
func runStep(ctx context.Context, cfg Config, rate, run int, batch []byte, stderr io.Writer) (Step, error) {
	st := Step{Rate: rate, Run: run, Senders: cfg.Senders, Subscribers: cfg.Subscribers, Split: cfg.Split}
	profile := ""
	if cfg.ProfileDir != "" {
		profile = filepath.Join(cfg.ProfileDir, fmt.Sprintf("cpu-%s-%d.pprof", rateName(rate), run))
	}
	rp, err := startRouter(cfg.Router, cfg.certs, cfg.Buffer, cfg.SubBuffer, profile, cfg.RouterArgs, stderr)
	if err != nil {
		return st, err
	}
	defer rp.Stop()
	ctls, err := cfg.certs.clientTLS()
	if err != nil {
		return st, err
	}
	dial := func(opts ...grpc.DialOption) (*grpc.ClientConn, error) {
		return grpc.NewClient(rp.Addr, append(opts, grpc.WithTransportCredentials(credentials.NewTLS(ctls)))...)
	}
	var subOpts []grpc.DialOption
	if w := int32(min(cfg.SubWindow, 1<<31-1)); w > 0 {
		subOpts = append(subOpts, grpc.WithInitialWindowSize(w), grpc.WithInitialConnWindowSize(w))
	}

	// Subscribers: shard IDs A and B (a copy each) or A and A (a share each).
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	var delivered atomic.Uint64
	var subs sync.WaitGroup
	defer subs.Wait()
	defer scancel()
	logs := []*envelope.Selector{{Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}}}
	for i := range cfg.Subscribers {
		shard := "A"
		if i == 1 && !cfg.Split {
			shard = "B"
		}
		cc, err := dial(subOpts...)
		if err != nil {
			return st, err
		}
		defer cc.Close()
		stream, err := wire.OpenBatchedReceiver(sctx, cc, &envelope.EgressBatchRequest{ShardId: shard, Selectors: logs})
		if err != nil {
			return st, err
		}
		subs.Add(1)
		go func() {
			defer subs.Done()
			var b wire.Batch
			var envs [][]byte
			for {
				if err := stream.RecvMsg(&b); err != nil {
					return
				}
				envs, _ = envelope.SplitBatch(b.Raw, envs[:0])
				delivered.Add(uint64(len(envs)))
			}
		}()
	}
	if err := waitSubscribed(ctx, rp, cfg.Subscribers); err != nil {
		return st, err
	}
	st.Expected = 0
	copies := uint64(cfg.Subscribers)
	if cfg.Split {
		copies = 1
	}
	before, err := rp.scrape(ctx)
	if err != nil {
		return st, err
	}

	// Senders: open every stream first, then start the clock.
	streams := make([]grpc.ClientStream, cfg.Senders)
	for i := range streams {
		cc, err := dial()
		if err != nil {
			return st, err
		}
		defer cc.Close()
		if streams[i], err = wire.OpenBatchSender(ctx, cc); err != nil {
			return st, err
		}
	}
	cpu0, err := procCPU(rp.Pid())
	if err != nil {
		return st, err
	}
	rd0, wr0, err := procSyscalls(rp.Pid())
	if err != nil {
		return st, err
	}
	sw0, err := procSwitches(rp.Pid())
	if err != nil {
		return st, err
	}
	start := time.Now()
	sent := make([]sendCount, cfg.Senders)
	errs := make([]error, cfg.Senders)
	var senders sync.WaitGroup
	for i, s := range streams {
		senders.Add(1)
		go func() {
			defer senders.Done()
			sent[i], errs[i] = send(ctx, s, batch, rate/cfg.Senders, cfg.SenderBuf/cfg.Senders, start, cfg.Duration)
		}()
	}
	senders.Wait()
	st.Window = time.Since(start)
	for i := range sent {
		if errs[i] != nil {
			return st, fmt.Errorf("routerbench: sender %d: %w", i, errs[i])
		}
		st.Sent += sent[i].sent
		st.Offered += sent[i].offered
		st.SenderDropped += sent[i].dropped
	}
	st.Expected = st.Sent * copies

	// Delivery has settled when everything arrived, or nothing more arrived
	// for 500 ms (the router flushes partial batches within 100 ms).
	last, lastChange := delivered.Load(), time.Now()
	for delivered.Load() < st.Expected && time.Since(lastChange) < 500*time.Millisecond {
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if d := delivered.Load(); d != last {
			last, lastChange = d, time.Now()
		}
	}
	st.Delivered = delivered.Load()
	cpu1, err := procCPU(rp.Pid())
	if err != nil {
		return st, err
	}
	st.CPU = cpu1 - cpu0
	rd1, wr1, err := procSyscalls(rp.Pid())
	if err != nil {
		return st, err
	}
	st.SysReads, st.SysWrites = rd1-rd0, wr1-wr0
	sw1, err := procSwitches(rp.Pid())
	if err != nil {
		return st, err
	}
	st.Switches = sw1 - min(sw0, sw1)
	if st.RSS, st.PeakRSS, err = procRSS(rp.Pid()); err != nil {
		return st, err
	}
	after, err := rp.scrape(ctx)
	if err != nil {
		return st, err
	}
	st.IngressDropped = after.IngressDropped - before.IngressDropped
	st.EgressDropped = after.EgressDropped - before.EgressDropped
	st.GCs = after.GCs - before.GCs
	st.Waits = after.Waits - before.Waits
	// Every envelope sent was taken in or shed at the edge.
	if in, shed := after.Ingress-before.Ingress, after.Shed-before.Shed; in+shed != st.Sent {
		return st, fmt.Errorf("routerbench: router counted %d envelopes in and %d shed, the senders %d", in, shed, st.Sent)
	}
	scancel()
	if err := rp.Stop(); err != nil {
		return st, fmt.Errorf("routerbench: router: %w", err)
	}
	return st, nil
}

// sendCount is what one sender stream was offered, sent and dropped.
type sendCount struct{ offered, sent, dropped uint64 }

// send paces one BatchSender stream at rate envelopes per second (flat out
// when rate is 0) from start for d, then ends the stream and waits for the
// router's answer, which confirms it read every batch. A paced sender is an
// agent: envelopes come due at rate whether or not the router reads, and
// while SendMsg is held up by flow control (the router pushing back) they
// wait in a buffer of buf envelopes; batches due beyond it are dropped and
// counted, as an agent's diode does. A flat-out sender sends as fast as the
// router reads: it is offered what it sends.
func send(ctx context.Context, s grpc.ClientStream, batch []byte, rate, buf int, start time.Time, d time.Duration) (sendCount, error) {
	msg := &wire.Batch{Raw: batch}
	var c sendCount
	for ctx.Err() == nil {
		elapsed := time.Since(start)
		if elapsed >= d {
			break
		}
		if rate > 0 {
			due := uint64(float64(rate) * elapsed.Seconds())
			if c.sent+c.dropped+BatchSize > due {
				time.Sleep(time.Millisecond)
				continue
			}
			for due-c.sent-c.dropped > uint64(buf)+BatchSize {
				c.dropped += BatchSize // the buffer is full: drop and count
			}
		}
		if err := s.SendMsg(msg); err != nil {
			return c, err
		}
		c.sent += BatchSize
	}
	c.offered = c.sent
	if rate > 0 {
		c.offered = uint64(float64(rate) * min(time.Since(start), d).Seconds())
	}
	if err := s.CloseSend(); err != nil {
		return c, err
	}
	if err := s.RecvMsg(&envelope.BatchSenderResponse{}); !wire.Confirmed(err) {
		return c, err
	}
	return c, nil
}

// waitSubscribed waits until the router reports n subscriptions.
func waitSubscribed(ctx context.Context, rp *routerProc, n int) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := rp.scrape(ctx)
		if err != nil {
			return err
		}
		if c.Subscriptions == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("routerbench: %d of %d subscribers subscribed after 30 s", c.Subscriptions, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func rateName(rate int) string {
	if rate == 0 {
		return "max"
	}
	return strconv.Itoa(rate)
}
