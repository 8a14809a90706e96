package drain_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/drain"
)

func TestRefusedBindings(t *testing.T) {
	m, err := drain.NewManager(drain.WithMaxDrainsPerSource(2), drain.WithMaxConnections(3))
	require.NoError(t, err)
	defer m.Close()
	bad := []drain.Binding{
		{SourceID: "", URL: "syslog://h:1"},
		{SourceID: "a", URL: ""},
		{SourceID: "a", URL: "syslog://h"},
		{SourceID: "a", URL: "http://h:1"},
		{SourceID: "a", URL: "syslog://u:secret@h:1?drain-type=bogus"},
		{SourceID: "a", URL: "https://h/x?drain-data=bogus"},
		{SourceID: "a", URL: "syslog://h:1 extra"},
		{SourceID: "a", URL: "syslog://%zz"},
	}
	err = m.SetBindings(bad)
	require.ErrorIs(t, err, drain.ErrInvalidBinding)
	assert.NotContains(t, err.Error(), "secret")
	assert.Equal(t, map[string]uint64{"invalid": uint64(len(bad))}, m.Stats().Refused)
	// Refused again: not counted twice.
	require.ErrorIs(t, m.SetBindings(bad), drain.ErrInvalidBinding)
	assert.Equal(t, uint64(len(bad)), m.Stats().Refused["invalid"])

	caps := []drain.Binding{
		{SourceID: "a", URL: "syslog://127.0.0.1:1"}, {SourceID: "a", URL: "syslog://127.0.0.1:2"},
		{SourceID: "a", URL: "syslog://127.0.0.1:3"}, {SourceID: "b", URL: "syslog://127.0.0.1:4"},
		{SourceID: "c", URL: "syslog://127.0.0.1:5"},
	}
	err = m.SetBindings(caps)
	require.ErrorIs(t, err, drain.ErrTooManyDrains)
	st := m.Stats()
	assert.Equal(t, uint64(1), st.Refused["per_source_cap"])
	assert.Equal(t, uint64(1), st.Refused["connection_cap"])
	assert.Len(t, st.Drains, 3)
	assert.Contains(t, st.Drains, "a syslog://127.0.0.1:1")
	assert.Contains(t, st.Drains, "a syslog://127.0.0.1:2")
	assert.NotContains(t, st.Drains, "a syslog://127.0.0.1:3")
}

func TestParseBindings(t *testing.T) {
	got := drain.ParseBindings([]byte("# comment\n\napp-1 syslog://h:1\napp-2  https://h/x  my-host\napp-3\napp-4 a b c\n"))
	assert.Equal(t, []drain.Binding{
		{SourceID: "app-1", URL: "syslog://h:1"},
		{SourceID: "app-2", URL: "https://h/x", Hostname: "my-host"},
		{SourceID: "app-3"},
		{SourceID: "app-4", URL: "a b c"},
	}, got)
}

func TestFileSourceReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bindings")
	require.NoError(t, os.WriteFile(path, []byte("app syslog://127.0.0.1:1\nbroken\n"), 0o600))
	m, err := drain.NewManager(drain.WithSource(drain.FileSource(path), 10*time.Millisecond))
	require.NoError(t, err)
	defer m.Close()
	st := m.Stats()
	assert.Len(t, st.Drains, 1)
	assert.Equal(t, uint64(1), st.Refused["invalid"])

	require.NoError(t, os.WriteFile(path, []byte("app syslog://127.0.0.1:2\nother syslog://127.0.0.1:3\n"), 0o600))
	require.Eventually(t, func() bool {
		d := m.Stats().Drains
		_, ok := d["other syslog://127.0.0.1:3"]
		return len(d) == 2 && ok
	}, 5*time.Second, 5*time.Millisecond)

	require.NoError(t, os.Remove(path))
	require.Eventually(t, func() bool { return m.Stats().SourceErrors > 0 }, 5*time.Second, 5*time.Millisecond)
	assert.Len(t, m.Stats().Drains, 2, "a failing source keeps the bindings known")
}

func TestSourceFuncPartial(t *testing.T) {
	src := drain.SourceFunc(func(context.Context) ([]drain.Binding, error) {
		return []drain.Binding{{SourceID: "a", URL: "syslog://127.0.0.1:1"}}, errors.Join(drain.ErrInvalidBinding)
	})
	m, err := drain.NewManager(drain.WithSource(src, time.Hour))
	require.NoError(t, err)
	defer m.Close()
	st := m.Stats()
	assert.Len(t, st.Drains, 1)
	assert.Equal(t, uint64(1), st.Refused["invalid"])
}

func TestInvalidConfig(t *testing.T) {
	for _, o := range []drain.Option{
		drain.WithBufferSize(0), drain.WithMaxDrainsPerSource(0), drain.WithMaxConnections(0),
		drain.WithLossReports(0, nil), drain.WithRetry(0, time.Second, time.Second),
		drain.WithTimeouts(0, time.Second), drain.WithHTTPSBatch(0, time.Second), drain.WithSource(nil, -1),
	} {
		_, err := drain.NewManager(o)
		assert.ErrorIs(t, err, drain.ErrInvalidConfig)
	}
	m, err := drain.NewManager(nil)
	require.NoError(t, err)
	require.NoError(t, m.Close())
	require.NoError(t, m.Close())
	assert.ErrorIs(t, m.SetBindings(nil), drain.ErrClosed)
}
