package draintest_test

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/drain/draintest"
)

func TestParse(t *testing.T) {
	m, err := draintest.Parse([]byte(`<11>1 2024-05-01T12:00:00.012345+00:00 org.space.app app-guid [APP/PROC/WEB/0] - [counter@47450 name="c" total="2" delta="1"][tags@47450 a="x\"y\\z\]" b=""] hello` + "\n"))
	require.NoError(t, err)
	assert.Equal(t, 11, m.Priority)
	assert.Equal(t, 1, m.Version)
	assert.Equal(t, time.Date(2024, 5, 1, 12, 0, 0, 12345000, time.UTC), m.Timestamp.UTC())
	assert.Equal(t, "org.space.app", m.Hostname)
	assert.Equal(t, "app-guid", m.AppName)
	assert.Equal(t, "[APP/PROC/WEB/0]", m.ProcID)
	assert.Equal(t, "", m.MsgID)
	require.Len(t, m.StructuredData, 2)
	assert.Equal(t, draintest.Element{ID: "counter@47450", Params: []draintest.Param{{"name", "c"}, {"total", "2"}, {"delta", "1"}}}, m.StructuredData[0])
	tags, ok := m.Element("tags@47450")
	require.True(t, ok)
	assert.Equal(t, map[string]string{"a": `x"y\z]`, "b": ""}, tags.Map())
	assert.Equal(t, "hello\n", string(m.Msg))

	m, err = draintest.Parse([]byte("<14>1 - - - - - -"))
	require.NoError(t, err)
	assert.Empty(t, m.Msg)
	assert.Nil(t, m.StructuredData)
}

func TestParseRefuses(t *testing.T) {
	for _, s := range []string{
		"", "<14>", "<192>1 - - - - - -", "<014>1 - - - - - -", "<14>0 - - - - - -", "<14>1 yesterday - - - - -",
		"<14>1 - - - - -", "<14>1 - - - - - [", "<14>1 - - - - - []", "<14>1 - - - - - [a b]", `<14>1 - - - - - [a b="]"]`,
		`<14>1 - - - - - [a b="x]`, "<14>1 - - - - - -x", "<14>1 -  - - - - -",
	} {
		_, err := draintest.Parse([]byte(s))
		assert.ErrorIs(t, err, draintest.ErrMalformed, "%q", s)
	}
}

func TestSplitMessages(t *testing.T) {
	body := "<14>1 - - - - - - a\nb\n<11>1 - - - - - - c\n<14>1 - - - - - - tail"
	got := draintest.SplitMessages([]byte(body))
	require.Len(t, got, 3)
	assert.Equal(t, "<14>1 - - - - - - a\nb\n", string(got[0]))
	assert.Equal(t, "<14>1 - - - - - - tail", string(got[2]))
}

// format writes m back as RFC 5424, for the round trip.
func format(m draintest.Message) []byte {
	nilify := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	var b bytes.Buffer
	b.WriteString("<" + strconv.Itoa(m.Priority) + ">" + strconv.Itoa(m.Version) + " ")
	if m.Timestamp.IsZero() {
		b.WriteString("-")
	} else {
		b.WriteString(m.Timestamp.Format(time.RFC3339Nano))
	}
	for _, f := range []string{m.Hostname, m.AppName, m.ProcID, m.MsgID} {
		b.WriteString(" " + nilify(f))
	}
	b.WriteString(" ")
	if len(m.StructuredData) == 0 {
		b.WriteString("-")
	}
	for _, e := range m.StructuredData {
		b.WriteString("[" + e.ID)
		for _, p := range e.Params {
			b.WriteString(" " + p.Name + `="`)
			for i := 0; i < len(p.Value); i++ {
				if c := p.Value[i]; c == '"' || c == '\\' || c == ']' {
					b.WriteByte('\\')
				}
				b.WriteByte(p.Value[i])
			}
			b.WriteString(`"`)
		}
		b.WriteString("]")
	}
	if len(m.Msg) > 0 {
		b.WriteString(" ")
		b.Write(m.Msg)
	}
	return b.Bytes()
}

// FuzzParse: whatever Parse accepts, written back and parsed again, gives
// the same message; Parse never panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`<14>1 2024-05-01T12:00:00.012345+00:00 h app [APP/0] - [tags@47450 a="x\"y"] hello` + "\n",
		`<11>1 - - - - - [a@1 b="\\"][c d="e"]`,
		"<0>1 1970-01-01T00:00:00Z - - - ID -  x",
		"12 <14>1 - - -",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := draintest.Parse(b)
		if err != nil {
			return
		}
		again, err := draintest.Parse(format(m))
		require.NoError(t, err, "%q", format(m))
		if len(m.Msg) == 0 {
			m.Msg = nil
		}
		if len(again.Msg) == 0 {
			again.Msg = nil
		}
		assert.True(t, m.Timestamp.Equal(again.Timestamp))
		m.Timestamp, again.Timestamp = time.Time{}, time.Time{}
		assert.Equal(t, m, again)
	})
}
