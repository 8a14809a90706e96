package drain_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/drain"
	"github.com/sluicelog/sluice/drain/draintest"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/testtls"
	"github.com/sluicelog/sluice/stats"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// sample returns envelope i of a mixed stream for source "app".
func sample(i int) *envelope.Envelope {
	ts := envelope.WithTimestamp(time.Unix(1714564800, int64(i)*1000))
	inst := envelope.WithInstanceID(strconv.Itoa(i % 3))
	tags := envelope.WithTags(map[string]string{"source_type": "APP/PROC/WEB", "seq": strconv.Itoa(i), "odd": `a"b]c\d`})
	switch i % 4 {
	case 0, 1:
		return envelope.NewLog("app", []byte(fmt.Sprintf("line %d", i)), ts, inst, tags, envelope.WithLogType(envelope.Log_Type(i%2)))
	case 2:
		return envelope.NewCounter("app", "requests", uint64(i), envelope.WithTotal(uint64(10*i)), ts, inst, tags)
	default:
		return envelope.NewGauge("app", []envelope.Metric{{Name: "cpu", Value: float64(i) / 4, Unit: "percentage"}}, ts, inst, tags)
	}
}

// checkFields compares a received message with the envelope it came from,
// field by field.
func checkFields(t *testing.T, m draintest.Message, e *envelope.Envelope, host string) {
	t.Helper()
	assert.Equal(t, 1, m.Version)
	assert.True(t, time.Unix(0, e.GetTimestamp()).Equal(m.Timestamp), "timestamp %v", m.Timestamp)
	assert.Equal(t, host, m.Hostname)
	assert.Equal(t, e.GetSourceId(), m.AppName)
	assert.Equal(t, "", m.MsgID)
	tags, ok := m.Element("tags@47450")
	require.True(t, ok)
	assert.Equal(t, e.GetTags(), tags.Map())
	switch e.Kind() {
	case envelope.KindLog:
		want := 14
		if e.GetLog().GetType() == envelope.Log_ERR {
			want = 11
		}
		assert.Equal(t, want, m.Priority)
		assert.Equal(t, "[APP/PROC/WEB/"+e.GetInstanceId()+"]", m.ProcID)
		assert.Equal(t, string(e.GetLog().GetPayload())+"\n", string(m.Msg))
	case envelope.KindCounter:
		assert.Equal(t, 14, m.Priority)
		assert.Equal(t, "["+e.GetInstanceId()+"]", m.ProcID)
		c, ok := m.Element("counter@47450")
		require.True(t, ok)
		assert.Equal(t, map[string]string{"name": e.GetCounter().GetName(),
			"delta": strconv.FormatUint(e.GetCounter().GetDelta(), 10), "total": strconv.FormatUint(e.GetCounter().GetTotal(), 10)}, c.Map())
	case envelope.KindGauge:
		g, ok := m.Element("gauge@47450")
		require.True(t, ok)
		v := e.GetGauge().GetMetrics()["cpu"]
		assert.Equal(t, map[string]string{"name": "cpu", "value": strconv.FormatFloat(v.GetValue(), 'g', -1, 64), "unit": v.GetUnit()}, g.Map())
	}
}

func seqOf(t *testing.T, m draintest.Message) int {
	t.Helper()
	tags, ok := m.Element("tags@47450")
	require.True(t, ok)
	n, err := strconv.Atoi(tags.Map()["seq"])
	require.NoError(t, err)
	return n
}

func TestDeliverEveryKind(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	plain := draintest.NewServer(nil)
	secure := draintest.NewServer(serverTLS)
	for _, s := range []*draintest.Server{plain, secure} {
		require.NoError(t, s.Start("127.0.0.1:0"))
		t.Cleanup(s.Kill)
	}
	h := draintest.NewHTTPHandler()
	hs := httptest.NewUnstartedServer(h)
	hs.TLS = serverTLS
	hs.StartTLS()
	defer hs.Close()

	m, err := drain.NewManager(drain.WithTLSConfig(clientTLS), drain.WithHostname("cell-1"),
		drain.WithHTTPSBatch(4096, 20*time.Millisecond))
	require.NoError(t, err)
	defer m.Close()
	require.NoError(t, m.SetBindings([]drain.Binding{
		{SourceID: "app", URL: plain.URL() + "?drain-type=all"},
		{SourceID: "app", URL: secure.URL() + "?drain-type=all"},
		{SourceID: "app", URL: hs.URL + "/drain?drain-type=all"},
		{SourceID: "logs-only", URL: plain.URL()},
	}))
	const n = 400
	sent := make([]*envelope.Envelope, n)
	for i := range n {
		sent[i] = sample(i)
		b, err := proto.Marshal(sent[i])
		require.NoError(t, err)
		require.NoError(t, m.Publish(b))
	}
	require.NoError(t, m.PublishEnvelope(envelope.NewCounter("logs-only", "c", 1)))
	require.NoError(t, m.Shutdown(ctxT(t)))
	// Shutdown returns once the drains have written everything; the
	// syslog servers may still be reading the last frames.
	require.NoError(t, plain.Wait(ctxT(t), n))
	require.NoError(t, secure.Wait(ctxT(t), n))

	for name, msgs := range map[string][]draintest.Message{"tcp": plain.Messages(), "tls": secure.Messages(), "https": h.Messages()} {
		t.Run(name, func(t *testing.T) {
			require.Len(t, msgs, n)
			for i, msg := range msgs {
				require.Equal(t, i, seqOf(t, msg), "in order")
				checkFields(t, msg, sent[i], "cell-1")
			}
		})
	}
	assert.Zero(t, plain.Malformed()+secure.Malformed()+h.Malformed())
	st := m.Stats()
	assert.Equal(t, uint64(n+1), st.Ingress)
	assert.Equal(t, uint64(1), st.Filtered, "logs-only drain does not want counters")
	for id, d := range st.Drains {
		if d.SourceID == "app" {
			assert.Equal(t, drain.Stats{SourceID: "app", URL: d.URL, Written: n, Sent: n, Messages: n, Writes: d.Writes, Dials: 1}, d, id)
		}
	}
}

// A receiver that stops gracefully and comes back loses only what the
// drain counted as dropped.
func TestReceiverRestart(t *testing.T) {
	_, serverTLS, clientTLS := testtls.Must(t)
	srv := draintest.NewServer(serverTLS)
	require.NoError(t, srv.Start("127.0.0.1:0"))
	defer srv.Kill()
	m, err := drain.NewManager(drain.WithTLSConfig(clientTLS), drain.WithBufferSize(50),
		drain.WithRetry(2, 5*time.Millisecond, 20*time.Millisecond), drain.WithLossReports(time.Hour, nil))
	require.NoError(t, err)
	defer m.Close()
	require.NoError(t, m.SetBindings([]drain.Binding{{SourceID: "app", URL: srv.URL()}}))

	seq := 0
	publish := func(k int) {
		for range k {
			require.NoError(t, m.PublishEnvelope(envelope.NewLog("app", []byte("x"), envelope.WithTag("seq", strconv.Itoa(seq)))))
			seq++
		}
	}
	publish(40) // fits the buffer while the drain connects
	require.NoError(t, srv.Wait(ctxT(t), 40))
	require.NoError(t, srv.Stop(ctxT(t)))
	publish(300) // receiver down: some wait in the buffer, the rest are dropped
	require.NoError(t, srv.Start(""))
	publish(40)
	require.NoError(t, m.Shutdown(ctxT(t)))
	require.NoError(t, srv.Stop(ctxT(t)))

	d := m.Stats().Drains["app "+srv.URL()]
	require.Equal(t, uint64(380), d.Written)
	require.Equal(t, d.Written, d.Sent+d.Dropped.Total())
	got := srv.Messages()
	assert.Equal(t, int(d.Sent), len(got), "received exactly what was counted sent")
	assert.Zero(t, srv.Malformed())
	assert.Positive(t, d.Dropped.Buffer+d.Dropped.Write, "the outage cost something")
	seen := make(map[int]bool)
	for _, msg := range got {
		s := seqOf(t, msg)
		assert.False(t, seen[s], "duplicate %d", s)
		seen[s] = true
	}
	t.Logf("sent %d, dropped %+v, dials %d", d.Sent, d.Dropped, d.Dials)
}

// A dead drain costs a healthy drain of the same source nothing, and the
// owner's stream (the healthy drain) shows the loss.
func TestDeadDrainCostsNothing(t *testing.T) {
	healthy := draintest.NewServer(nil)
	require.NoError(t, healthy.Start("127.0.0.1:0"))
	defer healthy.Kill()
	dead := draintest.NewServer(nil)
	require.NoError(t, dead.Start("127.0.0.1:0"))
	dead.Kill() // a port with nobody listening

	m, err := drain.NewManager(drain.WithBufferSize(100), drain.WithRetry(2, 10*time.Millisecond, 50*time.Millisecond),
		drain.WithLossReports(100*time.Millisecond, nil))
	require.NoError(t, err)
	defer m.Close()
	deadURL := dead.URL()
	require.NoError(t, m.SetBindings([]drain.Binding{{SourceID: "app", URL: healthy.URL()}, {SourceID: "app", URL: deadURL}}))

	const rate, n = 2000, 1000 // envelopes per second, total
	tick := time.NewTicker(time.Second / rate * 10)
	defer tick.Stop()
	for i := 0; i < n; i += 10 {
		<-tick.C
		for j := range 10 {
			require.NoError(t, m.PublishEnvelope(envelope.NewLog("app", []byte("data "+strconv.Itoa(i+j)))))
		}
	}
	// Wait for a loss report to reach the healthy drain.
	var report string
	require.Eventually(t, func() bool {
		for _, msg := range healthy.Messages() {
			if s := string(msg.Msg); strings.Contains(s, "envelopes dropped for drain "+deadURL) {
				report = s
				assert.Equal(t, "[LGR]", msg.ProcID)
				assert.Equal(t, 11, msg.Priority)
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, m.Shutdown(ctxT(t)))
	st := m.Stats()
	h := st.Drains["app "+healthy.URL()]
	dd := st.Drains["app "+deadURL]
	// Shutdown returns once the drains have written everything; the
	// healthy server may still be reading the last frames.
	require.NoError(t, healthy.Wait(ctxT(t), int(h.Sent)))

	data := uint64(0)
	for _, msg := range healthy.Messages() {
		if strings.HasPrefix(string(msg.Msg), "data ") {
			data++
		}
	}
	assert.Equal(t, uint64(n), data, "the healthy drain got every envelope")
	var reported, reports uint64
	for _, msg := range healthy.Messages() {
		var k uint64
		if _, err := fmt.Sscanf(string(msg.Msg), "%d envelopes dropped for drain", &k); err == nil {
			reported += k
			reports++
		}
	}
	// Both drains were handed every envelope and every loss report; the
	// healthy one delivered them all, the dead one counted them all dropped.
	assert.Equal(t, st.LossReports, reports, "every loss report reached the owner's healthy drain")
	assert.Equal(t, drain.Stats{SourceID: "app", URL: h.URL, Written: uint64(n) + reports, Sent: uint64(n) + reports, Messages: uint64(n) + reports, Writes: h.Writes, Dials: 1, Connected: h.Connected}, h)
	assert.Equal(t, uint64(n)+reports, dd.Written)
	assert.Zero(t, dd.Sent)
	assert.Equal(t, dd.Written, dd.Dropped.Total())
	assert.LessOrEqual(t, reported, dd.Dropped.Total(), "reports never claim more than was dropped")
	t.Logf("report %q; dead drain dropped %+v; reported %d", report, dd.Dropped, reported)
}

func TestLossToEmitter(t *testing.T) {
	got := make(chan *envelope.Envelope, 10)
	m, err := drain.NewManager(drain.WithBufferSize(1), drain.WithRetry(1, time.Millisecond, time.Millisecond),
		drain.WithLossReports(10*time.Millisecond, emitFunc(func(e *envelope.Envelope) { got <- e })))
	require.NoError(t, err)
	defer m.Close()
	require.NoError(t, m.SetBindings([]drain.Binding{{SourceID: "app", URL: "syslog://u:pw@127.0.0.1:1"}}))
	for range 5 {
		require.NoError(t, m.PublishEnvelope(envelope.NewLog("app", []byte("x"))))
	}
	e := <-got
	assert.Equal(t, "app", e.GetSourceId())
	assert.Equal(t, "LGR", e.GetTags()["source_type"])
	assert.Regexp(t, `^\d+ envelopes dropped for drain syslog://u:xxxxx@127\.0\.0\.1:1$`, string(e.GetLog().GetPayload()))
}

type emitFunc func(*envelope.Envelope)

func (f emitFunc) Emit(e *envelope.Envelope) { f(e) }

func TestReport(t *testing.T) {
	m, err := drain.NewManager(drain.WithBufferSize(1), drain.WithRetry(1, time.Millisecond, time.Millisecond), drain.WithLossReports(time.Hour, nil))
	require.NoError(t, err)
	require.ErrorIs(t, m.SetBindings([]drain.Binding{{SourceID: "app", URL: "syslog://127.0.0.1:1"}, {SourceID: "app", URL: "ftp://x"}}), drain.ErrInvalidBinding)
	require.NoError(t, m.PublishEnvelope(envelope.NewLog("other", []byte("x"))))
	require.Error(t, m.Publish([]byte{0xff}))
	require.NoError(t, m.Close())
	got := map[string]float64{}
	m.Report(func(mt stats.Metric) {
		k := mt.Name
		for _, tg := range mt.Tags {
			k += "," + tg.Key + "=" + tg.Value
		}
		got[k] = mt.Value
	})
	assert.Equal(t, map[string]float64{
		"ingress": 1, "unbound": 1, "filtered": 0, "dropped,direction=ingress,cause=malformed": 1,
		"egress": 0, "dropped,direction=egress,cause=overflow": 0, "dropped,direction=egress,cause=write_failed": 0,
		"messages": 0, "loss_reports": 0, "rejected_bindings,cause=invalid": 1, "drains": 1, "drain_connections": 0,
	}, got)
}
