package authz

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheck(t *testing.T) {
	read := &Grant{SourceIDs: []string{"a", "*"}, ShardIDs: []string{"g"}}
	star := &Grant{ShardIDs: []string{"*"}}
	tests := []struct {
		name   string
		grants []*Grant
		req    Request
		err    string
	}{
		{"own source", []*Grant{read}, Request{SourceIDs: []string{"a"}}, ""},
		{"star is no source wildcard", []*Grant{read}, Request{SourceIDs: []string{"b"}}, `authz: permission denied: x may not read source ID "b"`},
		{"own group", []*Grant{read}, Request{SourceIDs: []string{"a"}, ShardID: "g"}, ""},
		{"other group", []*Grant{read}, Request{SourceIDs: []string{"a"}, ShardID: "h"}, `authz: permission denied: x may not use shard ID "h"`},
		{"union of grants", []*Grant{read, star}, Request{SourceIDs: []string{"a"}, ShardID: "h"}, ""},
		{"no firehose", []*Grant{read, star}, Request{Firehose: true}, "authz: permission denied: x may not read every source ID (no firehose grant)"},
		{"firehose reads any source", []*Grant{{Firehose: true}}, Request{Firehose: true, SourceIDs: []string{"z"}}, ""},
		{"firehose still binds shards", []*Grant{{Firehose: true}}, Request{Firehose: true, ShardID: "g"}, `authz: permission denied: x may not use shard ID "g"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.grants, "x", tt.req)
			if tt.err == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, ErrDenied)
			assert.EqualError(t, err, tt.err)
		})
	}
}

func TestPolicyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.json")
	for _, bad := range []string{`{`, `{"grants":[{"firehose":true}]}`, `{"grants":[{"tokens":[""]}]}`, `{"grantz":[]}`} {
		require.NoError(t, os.WriteFile(path, []byte(bad), 0o600))
		_, err := NewPolicy(path)
		assert.ErrorIs(t, err, ErrInvalidConfig, bad)
	}
	_, err := NewPolicy(filepath.Join(dir, "missing.json"))
	assert.ErrorIs(t, err, ErrInvalidConfig)
}

func TestIdentity(t *testing.T) {
	u, _ := url.Parse("spiffe://acme/nozzle")
	cert := &x509.Certificate{Subject: pkix.Name{CommonName: "n", Organization: []string{"acme"}}, DNSNames: []string{"n.acme"}, URIs: []*url.URL{u}}
	cs := &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cert}}}
	assert.Equal(t, Identity{Subject: "CN=n,O=acme", Names: []string{"n.acme", "spiffe://acme/nozzle"}}, FromTLS(cs))
	assert.Equal(t, Identity{}, FromTLS(&tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}), "unverified certificates are no identity")

	r, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "/", nil)
	require.NoError(t, err)
	for h, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "abc": ""} {
		r.Header.Set("Authorization", h)
		assert.Equal(t, want, FromHTTP(r).Token, h)
	}
}
