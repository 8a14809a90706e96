package cli

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestGRPCLogLevels(t *testing.T) {
	var buf bytes.Buffer
	g := grpcSlog{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	g.Infof("chatty %d", 1)
	g.Warningf("grpc: Server.Serve failed to complete security handshake from %q", "127.0.0.1:1")
	g.Errorln("broken")
	assert.False(t, g.V(2))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if assert.Len(t, lines, 2) {
		assert.Contains(t, lines[0], `level=INFO msg="grpc: Server.Serve failed to complete security handshake from \"127.0.0.1:1\"" from=grpc`)
		assert.Contains(t, lines[1], "level=ERROR msg=broken from=grpc")
	}
}
