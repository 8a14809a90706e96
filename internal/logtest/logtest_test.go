package logtest

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBuffer(t *testing.T) {
	l, b := New(slog.LevelWarn)
	assert.Empty(t, b.Lines())
	l.Info("hidden")
	l.Warn("one", "k", 1)
	l.Error("two")
	lines := b.Lines()
	assert.Len(t, lines, 2)
	assert.Contains(t, lines[0], `level=WARN msg=one k=1`)
	assert.Contains(t, lines[1], `level=ERROR msg=two`)
}
