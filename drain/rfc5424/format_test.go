package rfc5424_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/drain/rfc5424"
	"github.com/sluicelog/sluice/envelope"
)

var ts = envelope.WithTimestamp(time.Unix(0, 12345000))

func logEnv(sourceType, instance, payload string, typ envelope.Log_Type) *envelope.Envelope {
	return envelope.NewLog("test-app-id", []byte(payload), ts, envelope.WithInstanceID(instance),
		envelope.WithTag("source_type", sourceType), envelope.WithLogType(typ))
}

func format(t *testing.T, e *envelope.Envelope) string {
	t.Helper()
	f, err := rfc5424.New("test-hostname")
	require.NoError(t, err)
	b, n, err := f.Append(nil, e)
	require.NoError(t, err)
	require.Equal(t, rfc5424.Count(e), n)
	return string(b)
}

func TestFormat(t *testing.T) {
	const head = "1970-01-01T00:00:00.012345+00:00 test-hostname test-app-id "
	counter := envelope.NewCounter("test-app-id", "some-counter", 1, ts, envelope.WithTotal(99), envelope.WithInstanceID("1"))
	tagged := envelope.NewCounter("test-app-id", "some-counter", 1, ts, envelope.WithTotal(99), envelope.WithInstanceID("1"), envelope.WithTag("metric-tag", "scallop"))
	gauge := envelope.NewGauge("test-app-id", []envelope.Metric{
		{Name: "memory", Value: 5423, Unit: "bytes"}, {Name: "cpu", Value: 0.23, Unit: "percentage"},
	}, ts, envelope.WithInstanceID("1"))
	timer := envelope.NewTimer("test-app-id", "http", time.Unix(0, 10), time.Unix(0, 20), ts, envelope.WithInstanceID("1"))
	event := envelope.NewEvent("test-app-id", "event-title", "event-body", ts, envelope.WithInstanceID("1"))
	withOrg := logEnv("MY TASK", "2", "just a test", envelope.Log_ERR)
	withOrg.Tags["organization_name"] = "some_org"
	withOrg.Tags["space_name"] = "some  space"
	withOrg.Tags["app_name"] = "some_app--"
	long := logEnv("MY TASK", "2", "x", envelope.Log_OUT)
	long.Tags = map[string]string{"app_name": strings.Repeat("c", 100)}
	tests := []struct {
		name string
		env  *envelope.Envelope
		want string
	}{
		{"stdout", logEnv("MY TASK", "2", "just a test", envelope.Log_OUT),
			`<14>1 ` + head + `[MY-TASK/2] - [tags@47450 source_type="MY TASK"] just a test` + "\n"},
		{"stderr", logEnv("app/proc/web", "2", "oops\n", envelope.Log_ERR),
			`<11>1 ` + head + `[APP/PROC/WEB/2] - [tags@47450 source_type="app/proc/web"] oops` + "\n"},
		{"no instance, NULs removed", logEnv("rtr", "", "a\x00b\x00", envelope.Log_OUT),
			`<14>1 ` + head + `[RTR] - [tags@47450 source_type="rtr"] ab` + "\n"},
		{"no tags", envelope.NewLog("test-app-id", []byte("hi"), ts),
			`<14>1 ` + head + `[] - - hi` + "\n"},
		{"counter", counter, `<14>1 ` + head + `[1] - [counter@47450 name="some-counter" total="99" delta="1"] ` + "\n"},
		{"counter with tags", tagged, `<14>1 ` + head + `[1] - [counter@47450 name="some-counter" total="99" delta="1"][tags@47450 metric-tag="scallop"] ` + "\n"},
		{"gauge, one message per metric in name order", gauge,
			`<14>1 ` + head + `[1] - [gauge@47450 name="cpu" value="0.23" unit="percentage"] ` + "\n" +
				`<14>1 ` + head + `[1] - [gauge@47450 name="memory" value="5423" unit="bytes"] ` + "\n"},
		{"timer", timer, `<14>1 ` + head + `[1] - [timer@47450 name="http" start="10" stop="20"] ` + "\n"},
		{"event", event, `<14>1 ` + head + `[1] - [event@47450 title="event-title" body="event-body"] ` + "\n"},
		{"hostname from org, space and app", withOrg,
			`<11>1 1970-01-01T00:00:00.012345+00:00 someorg.some-space.someapp test-app-id [MY-TASK/2] - [tags@47450 app_name="some_app--" organization_name="some_org" source_type="MY TASK" space_name="some  space"] just a test` + "\n"},
		{"hostname parts cut to 63", long,
			`<14>1 1970-01-01T00:00:00.012345+00:00 ..` + strings.Repeat("c", 63) + ` test-app-id [/2] - [tags@47450 app_name="` + strings.Repeat("c", 100) + `"] x` + "\n"},
		{"escaped values and sanitized names", envelope.NewEvent("test-app-id", `a"b`, `c\d]`, ts, envelope.WithTag("k=y z", "v")),
			`<14>1 ` + head + `[] - [event@47450 title="a\"b" body="c\\d\]"][tags@47450 k_y_z="v"] ` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, format(t, tt.env))
		})
	}
}

func TestOctetCounted(t *testing.T) {
	f, err := rfc5424.New("h")
	require.NoError(t, err)
	e := envelope.NewGauge("s", []envelope.Metric{{Name: "a", Value: 1}, {Name: "b", Value: 2}}, ts)
	b, n, err := f.AppendOctetCounted([]byte("x"), e)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	m1 := `<14>1 1970-01-01T00:00:00.012345+00:00 h s [] - [gauge@47450 name="a" value="1" unit=""] ` + "\n"
	m2 := strings.Replace(m1, `name="a" value="1"`, `name="b" value="2"`, 1)
	assert.Equal(t, "x"+"90 "+m1+"90 "+m2, string(b))
	assert.Len(t, m1, 90)
}

func TestLongProcID(t *testing.T) {
	e := logEnv(strings.Repeat("t", 200), strings.Repeat("i", 50), "x", envelope.Log_OUT)
	msg := format(t, e)
	pid := strings.Fields(msg)[4]
	assert.Len(t, pid, 128)
	assert.Equal(t, "["+strings.Repeat("T", 127-2-36)+"/"+strings.Repeat("i", 36)+"]", pid)
	e = logEnv(strings.Repeat("t", 200), "", "x", envelope.Log_OUT)
	assert.Equal(t, "["+strings.Repeat("T", 126)+"]", strings.Fields(format(t, e))[4])
}

func TestRefused(t *testing.T) {
	f, err := rfc5424.New("")
	require.NoError(t, err)
	for name, e := range map[string]*envelope.Envelope{
		"no message":    {SourceId: "a"},
		"empty gauge":   {SourceId: "a", Message: &envelope.Envelope_Gauge{Gauge: &envelope.Gauge{}}},
		"long source":   envelope.NewLog(strings.Repeat("a", 49), nil),
		"long instance": envelope.NewLog("a", nil, envelope.WithInstanceID(strings.Repeat("i", 129))),
	} {
		b, n, err := f.Append([]byte("keep"), e)
		assert.ErrorIs(t, err, rfc5424.ErrUnformattable, name)
		assert.Equal(t, 0, n, name)
		assert.Equal(t, "keep", string(b), name)
	}
	_, err = rfc5424.New(strings.Repeat("h", 256))
	assert.ErrorIs(t, err, rfc5424.ErrInvalidConfig)
	_, err = rfc5424.New("a b")
	assert.ErrorIs(t, err, rfc5424.ErrInvalidConfig)
}

func TestNoAllocs(t *testing.T) {
	f, err := rfc5424.New("host")
	require.NoError(t, err)
	envs := benchEnvelopes()
	buf := make([]byte, 0, 4096)
	for _, e := range envs {
		buf, _, _ = f.AppendOctetCounted(buf[:0], e)
	}
	for _, e := range envs {
		allocs := testing.AllocsPerRun(100, func() { buf, _, _ = f.AppendOctetCounted(buf[:0], e) })
		assert.Zero(t, allocs, e.Kind().String())
	}
}

func benchEnvelopes() []*envelope.Envelope {
	tags := envelope.WithTags(map[string]string{"source_type": "APP/PROC/WEB", "app_name": "shop", "space_name": "prod", "organization_name": "acme"})
	return []*envelope.Envelope{
		envelope.NewLog("6f1b9a0c-1d3e-4f5a-9b7c-2e8d4a6b0c1f", []byte("GET /checkout 200 12ms"), envelope.WithInstanceID("3"), tags),
		envelope.NewCounter("6f1b9a0c-1d3e-4f5a-9b7c-2e8d4a6b0c1f", "requests", 1, envelope.WithTotal(1234), envelope.WithInstanceID("3"), tags),
		envelope.NewGauge("6f1b9a0c-1d3e-4f5a-9b7c-2e8d4a6b0c1f", []envelope.Metric{{Name: "cpu", Value: 0.25, Unit: "percentage"}, {Name: "memory", Value: 1 << 28, Unit: "bytes"}}, envelope.WithInstanceID("3"), tags),
	}
}

// BenchmarkFormat formats one envelope per operation into a reused buffer.
func BenchmarkFormat(b *testing.B) {
	f, err := rfc5424.New("host")
	require.NoError(b, err)
	buf := make([]byte, 0, 4096)
	for _, e := range benchEnvelopes() {
		b.Run(e.Kind().String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf, _, _ = f.AppendOctetCounted(buf[:0], e)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}
