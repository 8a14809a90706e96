package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/internal/testtls"
)

func TestTLSFiles(t *testing.T) {
	ca, err := testtls.NewCA("cli")
	require.NoError(t, err)
	_, certPEM, keyPEM, err := ca.Issue("cli")
	require.NoError(t, err)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	caFile, certFile, keyFile := write("ca.pem", ca.PEM()), write("cert.pem", certPEM), write("key.pem", keyPEM)

	none := TLSFiles{}
	cfg, err := none.ServerConfig()
	require.NoError(t, err)
	assert.Nil(t, cfg, "no files: plaintext")
	cfg, err = none.ClientConfig()
	require.NoError(t, err)
	assert.Nil(t, cfg)

	mutual := TLSFiles{Cert: certFile, Key: keyFile, CA: caFile, ServerName: "localhost"}
	cfg, err = mutual.ServerConfig()
	require.NoError(t, err)
	assert.Len(t, cfg.Certificates, 1)
	assert.NotNil(t, cfg.ClientCAs, "CA given: client certificates required")
	cfg, err = mutual.ClientConfig()
	require.NoError(t, err)
	assert.Len(t, cfg.Certificates, 1)
	assert.NotNil(t, cfg.RootCAs)
	assert.Equal(t, "localhost", cfg.ServerName)

	for _, bad := range []TLSFiles{{CA: caFile}, {Cert: certFile}, {Cert: certFile, Key: keyFile, CA: keyFile}, {Cert: "missing", Key: keyFile}} {
		_, err := bad.ServerConfig()
		assert.Error(t, err, "%+v", bad)
	}
	_, err = (&TLSFiles{Cert: certFile, Key: keyFile}).ClientConfig()
	assert.Error(t, err, "client certificate without CA")
}

func TestListening(t *testing.T) {
	var b bytes.Buffer
	Listening(&b, "127.0.0.1:8082", "gateway", "", "metrics", "http://127.0.0.1:9100/metrics")
	assert.Equal(t, "127.0.0.1:8082 metrics=http://127.0.0.1:9100/metrics\n", b.String())
}

func TestParse(t *testing.T) {
	newFS := func() *flag.FlagSet {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(&bytes.Buffer{})
		fs.String("addr", "", "")
		return fs
	}
	code, ok := Parse(newFS(), []string{"-h"})
	assert.Equal(t, 0, code)
	assert.False(t, ok)
	code, ok = Parse(newFS(), []string{"-nope"})
	assert.Equal(t, 2, code)
	assert.False(t, ok)
	code, ok = Parse(newFS(), []string{"extra"})
	assert.Equal(t, 2, code)
	assert.False(t, ok)
	_, ok = Parse(newFS(), []string{"-addr", "x"})
	assert.True(t, ok)
}
