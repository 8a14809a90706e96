package nozzle

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every gRPC consumer pings its routers by default, so a stalled router is
// noticed; WithKeepalive(0, 0) turns it off.
func TestKeepaliveOnByDefault(t *testing.T) {
	cfg, err := buildConfig([]FirehoseOption{}, FirehoseOption.applyFirehose)
	require.NoError(t, err)
	assert.Equal(t, 15*time.Second, cfg.keepalive)
	assert.Equal(t, 5*time.Second, cfg.kaTimeout)
	cfg, err = buildConfig([]ReaderOption{WithKeepalive(0, 0)}, ReaderOption.applyReader)
	require.NoError(t, err)
	assert.Zero(t, cfg.keepalive)
}
