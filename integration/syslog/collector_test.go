package syslog_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/operator/input/tcp"
	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/syslogreceiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/sluicelog/sluice/drain"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/testtls"
)

// collector is the OpenTelemetry Collector's syslog receiver (RFC 5424,
// octet counting) listening on addr, TLS when certPEM is set, delivering
// parsed records into sink. It can be stopped and started again on the
// same address.
type collector struct {
	t       *testing.T
	addr    string
	certPEM []byte
	keyPEM  []byte
	sink    *consumertest.LogsSink
	r       receiver.Logs
}

func newCollector(t *testing.T, certPEM, keyPEM []byte) *collector {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c := &collector{t: t, addr: lis.Addr().String(), certPEM: certPEM, keyPEM: keyPEM, sink: new(consumertest.LogsSink)}
	require.NoError(t, lis.Close())
	c.start()
	t.Cleanup(c.stop)
	return c
}

func (c *collector) start() {
	c.t.Helper()
	f := syslogreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*syslogreceiver.SysLogConfig)
	cfg.InputConfig.Protocol = "rfc5424"
	cfg.InputConfig.EnableOctetCounting = true
	in := tcp.NewConfig().BaseConfig
	in.ListenAddress = c.addr
	// Loggregator's messages end in a newline counted in their length:
	// the receiver must not trim it.
	in.TrimConfig.PreserveTrailing = true
	if c.certPEM != nil {
		in.TLS = &configtls.ServerConfig{Config: configtls.Config{CertPem: configopaque.String(c.certPEM), KeyPem: configopaque.String(c.keyPEM)}}
	}
	cfg.InputConfig.TCP = &in
	r, err := f.CreateLogs(context.Background(), receivertest.NewNopSettings(f.Type()), cfg, c.sink)
	require.NoError(c.t, err)
	require.NoError(c.t, r.Start(context.Background(), componenttest.NewNopHost()))
	c.r = r
}

func (c *collector) stop() {
	if c.r != nil {
		assert.NoError(c.t, c.r.Shutdown(context.Background()))
		c.r = nil
	}
}

func (c *collector) records() []plog.LogRecord {
	var out []plog.LogRecord
	for _, ld := range c.sink.AllLogs() {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, r := range sl.LogRecords().All() {
					out = append(out, r)
				}
			}
		}
	}
	return out
}

func (c *collector) wait(t *testing.T, n int) []plog.LogRecord {
	t.Helper()
	require.Eventually(t, func() bool { return c.sink.LogRecordCount() >= n }, 20*time.Second, 10*time.Millisecond,
		"collector has %d records, want %d", c.sink.LogRecordCount(), n)
	recs := c.records()
	require.Len(t, recs, n)
	return recs
}

func sample(i int) *envelope.Envelope {
	ts := envelope.WithTimestamp(time.Unix(1714564800, int64(i)*1000+123000))
	inst := envelope.WithInstanceID(strconv.Itoa(i % 3))
	tags := envelope.WithTags(map[string]string{"source_type": "APP/PROC/WEB", "seq": strconv.Itoa(i), "odd": `a"b]c\d`})
	switch i % 4 {
	case 0, 1:
		return envelope.NewLog("app", fmt.Appendf(nil, "line %d", i), ts, inst, tags, envelope.WithLogType(envelope.Log_Type(i%2)))
	case 2:
		return envelope.NewCounter("app", "requests", uint64(i), envelope.WithTotal(uint64(10*i)), ts, inst, tags)
	default:
		return envelope.NewGauge("app", []envelope.Metric{{Name: "cpu", Value: float64(i) / 4, Unit: "percentage"}}, ts, inst, tags)
	}
}

// want is what the collector's parser should make of e: the record's
// attributes, as its RFC 5424 parser names them.
func want(e *envelope.Envelope, host string) map[string]any {
	sd := map[string]any{"tags@47450": anyMap(e.GetTags())}
	a := map[string]any{
		"version": int64(1), "hostname": host, "appname": e.GetSourceId(), "facility": int64(1), "facility_text": "user",
		"priority": int64(14), "structured_data": sd,
	}
	switch e.Kind() {
	case envelope.KindLog:
		if e.GetLog().GetType() == envelope.Log_ERR {
			a["priority"] = int64(11)
		}
		a["proc_id"] = "[APP/PROC/WEB/" + e.GetInstanceId() + "]"
		a["message"] = string(e.GetLog().GetPayload()) + "\n"
	case envelope.KindCounter:
		c := e.GetCounter()
		a["proc_id"] = "[" + e.GetInstanceId() + "]"
		a["message"] = "\n"
		sd["counter@47450"] = map[string]any{"name": c.GetName(), "delta": strconv.FormatUint(c.GetDelta(), 10), "total": strconv.FormatUint(c.GetTotal(), 10)}
	case envelope.KindGauge:
		v := e.GetGauge().GetMetrics()["cpu"]
		a["proc_id"] = "[" + e.GetInstanceId() + "]"
		a["message"] = "\n"
		sd["gauge@47450"] = map[string]any{"name": "cpu", "value": strconv.FormatFloat(v.GetValue(), 'g', -1, 64), "unit": v.GetUnit()}
	}
	return a
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func seqOf(t *testing.T, r plog.LogRecord) int {
	t.Helper()
	sd, ok := r.Attributes().Get("structured_data")
	require.True(t, ok, "record without structured data: %v body %v", r.Attributes().AsRaw(), r.Body().AsRaw())
	tags, ok := sd.Map().Get("tags@47450")
	require.True(t, ok)
	s, ok := tags.Map().Get("seq")
	require.True(t, ok)
	n, err := strconv.Atoi(s.Str())
	require.NoError(t, err)
	return n
}

// Every envelope reaches the collector's syslog receiver, over TCP and
// over TLS, and every field it parses equals what was sent.
func TestCollectorReceivesEverything(t *testing.T) {
	ca, err := testtls.NewCA("drain-ca")
	require.NoError(t, err)
	_, certPEM, keyPEM, err := ca.Issue("collector")
	require.NoError(t, err)
	plain := newCollector(t, nil, nil)
	secure := newCollector(t, certPEM, keyPEM)

	m, err := drain.NewManager(drain.WithHostname("cell-1"), drain.WithTLSConfig(&tls.Config{RootCAs: ca.Pool()}))
	require.NoError(t, err)
	defer m.Close()
	require.NoError(t, m.SetBindings([]drain.Binding{
		{SourceID: "app", URL: "syslog://" + plain.addr + "?drain-type=all"},
		{SourceID: "app", URL: "syslog-tls://" + secure.addr + "?drain-type=all"},
	}))
	const n = 400
	sent := make([]*envelope.Envelope, n)
	for i := range n {
		sent[i] = sample(i)
		require.NoError(t, m.PublishEnvelope(sent[i]))
	}
	require.NoError(t, m.Shutdown(t.Context()))
	for id, d := range m.Stats().Drains {
		assert.Equal(t, drain.Stats{SourceID: "app", URL: d.URL, Written: n, Sent: n, Messages: n, Writes: d.Writes, Dials: 1}, d, id)
	}

	for name, c := range map[string]*collector{"tcp": plain, "tls": secure} {
		t.Run(name, func(t *testing.T) {
			recs := c.wait(t, n)
			seen := make(map[int]bool, n)
			for _, r := range recs {
				i := seqOf(t, r)
				require.False(t, seen[i], "duplicate %d", i)
				seen[i] = true
				e := sent[i]
				assert.Equal(t, want(e, "cell-1"), r.Attributes().AsRaw(), "envelope %d", i)
				assert.Equal(t, time.Unix(0, e.GetTimestamp()).UTC(), r.Timestamp().AsTime(), "envelope %d", i)
				sev, text := plog.SeverityNumberInfo, "info"
				if e.GetLog().GetType() == envelope.Log_ERR && e.Kind() == envelope.KindLog {
					sev, text = plog.SeverityNumberError, "err"
				}
				assert.Equal(t, sev, r.SeverityNumber(), "envelope %d", i)
				assert.Equal(t, text, r.SeverityText(), "envelope %d", i)
			}
		})
	}
}

// The receiver stops and starts again: the drain loses only what its
// counters say it dropped, and nothing arrives twice.
func TestCollectorRestart(t *testing.T) {
	ca, err := testtls.NewCA("drain-ca")
	require.NoError(t, err)
	_, certPEM, keyPEM, err := ca.Issue("collector")
	require.NoError(t, err)
	c := newCollector(t, certPEM, keyPEM)
	m, err := drain.NewManager(drain.WithTLSConfig(&tls.Config{RootCAs: ca.Pool()}), drain.WithBufferSize(50),
		drain.WithRetry(2, 5*time.Millisecond, 20*time.Millisecond), drain.WithLossReports(time.Hour, nil))
	require.NoError(t, err)
	defer m.Close()
	url := "syslog-tls://" + c.addr
	require.NoError(t, m.SetBindings([]drain.Binding{{SourceID: "app", URL: url}}))
	stats := func() drain.Stats { return m.Stats().Drains["app "+url] }

	seq := 0
	publish := func(k int) {
		for range k {
			require.NoError(t, m.PublishEnvelope(envelope.NewLog("app", []byte("x"), envelope.WithTag("seq", strconv.Itoa(seq)))))
			seq++
		}
	}
	publish(40)
	c.wait(t, 40)
	c.stop()
	// The receiver cut the connection; the drain notices while idle.
	require.Eventually(t, func() bool { return !stats().Connected }, 10*time.Second, time.Millisecond)
	publish(300) // receiver down: some wait in the buffer, the rest are dropped
	c.start()
	// Once the drain has dealt with everything published so far (sent or
	// counted dropped), what follows arrives whole.
	require.Eventually(t, func() bool { d := stats(); return d.Written == d.Sent+d.Dropped.Total() }, 10*time.Second, time.Millisecond)
	publish(40)
	require.NoError(t, m.Shutdown(t.Context()))

	d := stats()
	require.Equal(t, uint64(380), d.Written)
	require.Equal(t, d.Written, d.Sent+d.Dropped.Total(), "%+v", d)
	assert.Equal(t, uint64(0), d.Dropped.Closed+d.Dropped.Format)
	recs := c.wait(t, int(d.Sent))
	seen := make(map[int]bool, len(recs))
	for _, r := range recs {
		s := seqOf(t, r)
		assert.False(t, seen[s], "duplicate %d", s)
		seen[s] = true
	}
	for s := range 40 {
		assert.True(t, seen[s], "sent before the outage: %d", s)
	}
	for s := 340; s < 380; s++ {
		assert.True(t, seen[s], "sent after the outage: %d", s)
	}
	t.Logf("sent %d, dropped %+v, dials %d", d.Sent, d.Dropped, d.Dials)
}
