package serve

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluicelog/sluice/egress/authz"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/connlimit/connlimittest"
	"github.com/sluicelog/sluice/internal/logtest"
	"github.com/sluicelog/sluice/internal/testtls"
)

// authzTestPolicy: the billing nozzle (certificate or token) reads source
// ID billing in shard group billing; admin reads everything in any group.
var authzTestPolicy = authz.PolicyFile{Grants: []authz.Grant{
	{Subjects: []string{"CN=billing-nozzle"}, Tokens: []string{"tok-billing"}, SourceIDs: []string{"billing"}, ShardIDs: []string{"billing"}},
	{Names: []string{"admin"}, Tokens: []string{"tok-admin"}, Firehose: true, ShardIDs: []string{"*"}},
}}

func authzTestClientTLS(t *testing.T, ca *testtls.CA, name string) *tls.Config {
	t.Helper()
	pair, _, _, err := ca.Issue(name)
	require.NoError(t, err)
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: ca.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

// TestServerAuthorizer: over mutual TLS, each certificate reads what its
// grant allows; the rest is refused with PermissionDenied, a precise
// message, and counted.
func TestServerAuthorizer(t *testing.T) {
	pol, err := authz.NewPolicyOf(authzTestPolicy)
	require.NoError(t, err)
	r := routerTestNew(t)
	ca, serverTLS, _ := testtls.Must(t)
	srv, err := NewServer(r, WithTLS(serverTLS), WithAuthorizer(pol))
	require.NoError(t, err)
	addr, err := srv.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	dial := func(name string) envelope.EgressClient {
		return envelope.NewEgressClient(serverTestDial(t, addr.String(), authzTestClientTLS(t, ca, name)))
	}
	billing, admin, intruder := dial("billing-nozzle"), dial("admin"), dial("intruder")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	refused := []struct {
		name string
		c    envelope.EgressClient
		req  *envelope.EgressBatchRequest
		code codes.Code
		msg  string
	}{
		{"firehose without grant", billing, routerTestReq("billing", routerTestLogs("")), codes.PermissionDenied,
			`authz: permission denied: certificate "CN=billing-nozzle" may not read every source ID (no firehose grant)`},
		{"source ID outside grant", billing, routerTestReq("billing", routerTestLogs("billing"), routerTestLogs("payroll")), codes.PermissionDenied,
			`authz: permission denied: certificate "CN=billing-nozzle" may not read source ID "payroll"`},
		{"shard ID outside grant", billing, routerTestReq("other", routerTestLogs("billing")), codes.PermissionDenied,
			`authz: permission denied: certificate "CN=billing-nozzle" may not use shard ID "other"`},
		{"stranger joins billing", intruder, routerTestReq("billing", routerTestLogs("billing")), codes.PermissionDenied,
			`authz: permission denied: no grant for certificate "CN=intruder"`},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.c.BatchedReceiver(ctx, tt.req)
			require.NoError(t, err)
			_, err = s.Recv()
			assert.Equal(t, tt.code, status.Code(err))
			assert.Equal(t, tt.msg, status.Convert(err).Message())
		})
	}

	// Allowed: billing in its group, billing with no group, admin's firehose.
	open := func(c envelope.EgressClient, req *envelope.EgressBatchRequest) envelope.Egress_BatchedReceiverClient {
		s, err := c.BatchedReceiver(ctx, req)
		require.NoError(t, err)
		return s
	}
	inGroup := open(billing, routerTestReq("billing", routerTestLogs("billing")))
	alone := open(billing, routerTestReq("", routerTestLogs("billing")))
	all := open(admin, routerTestReq("audit", routerTestLogs("")))
	serverTestWaitSubs(t, r, 3)
	require.NoError(t, r.Publish(routerTestMarshal(t, envelope.NewLog("billing", nil))))
	require.NoError(t, r.Publish(routerTestMarshal(t, envelope.NewLog("payroll", nil))))
	for _, want := range []struct {
		s envelope.Egress_BatchedReceiverClient
		n int
	}{{inGroup, 1}, {alone, 1}, {all, 2}} {
		got := 0
		for got < want.n {
			b, err := want.s.Recv()
			require.NoError(t, err)
			got += len(b.GetBatch())
		}
		assert.Equal(t, want.n, got)
	}
	st := srv.Stats()
	assert.Equal(t, map[string]uint64{RefusedDenied: 4}, st.Refused)
	assert.Equal(t, uint64(4), st.RejectedStreams)
	assert.Equal(t, ShardStats{Subscriptions: 1, Egress: 1}, r.Stats().Shards["billing"], "nobody else joined billing")
}

// TestServerMaxClientStreams: one certificate holds at most its share of
// streams; another client still gets in.
func TestServerMaxClientStreams(t *testing.T) {
	r := routerTestNew(t)
	ca, serverTLS, _ := testtls.Must(t)
	srv, err := NewServer(r, WithTLS(serverTLS), WithMaxClientStreams(2))
	require.NoError(t, err)
	addr, err := srv.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	greedy := envelope.NewEgressClient(serverTestDial(t, addr.String(), authzTestClientTLS(t, ca, "greedy")))
	// A second connection with the same certificate is the same client.
	greedy2 := envelope.NewEgressClient(serverTestDial(t, addr.String(), authzTestClientTLS(t, ca, "greedy")))
	other := envelope.NewEgressClient(serverTestDial(t, addr.String(), authzTestClientTLS(t, ca, "other")))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := routerTestReq("", routerTestLogs(""))
	for _, c := range []envelope.EgressClient{greedy, greedy2} {
		_, err := c.BatchedReceiver(ctx, req)
		require.NoError(t, err)
	}
	serverTestWaitSubs(t, r, 2)
	third, err := greedy2.BatchedReceiver(ctx, req)
	require.NoError(t, err)
	_, err = third.Recv()
	assert.Equal(t, codes.ResourceExhausted, status.Code(err))
	assert.Equal(t, "serve: too many streams from one client (at most 2)", status.Convert(err).Message())
	_, err = other.BatchedReceiver(ctx, req)
	require.NoError(t, err)
	serverTestWaitSubs(t, r, 3)
	assert.Equal(t, map[string]uint64{RefusedClientStreams: 1}, srv.Stats().Refused)
}

// TestGatewayAuthorizer: over HTTPS, bearer tokens and client certificates
// read what their grants allow; no identity is 401, the rest 403; a policy
// file reload takes effect at once.
func TestGatewayAuthorizer(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.json")
	write := func(f authz.PolicyFile) {
		b, err := json.Marshal(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, b, 0o600))
	}
	write(authzTestPolicy)
	pol, err := authz.NewPolicy(path)
	require.NoError(t, err)

	r := routerTestNew(t)
	gw, err := NewGateway(r, WithAuthorizer(pol))
	require.NoError(t, err)
	ca, serverTLS, _ := testtls.Must(t)
	serverTLS.ClientAuth = tls.VerifyClientCertIfGiven
	ts := httptest.NewUnstartedServer(gw)
	ts.TLS = serverTLS
	ts.StartTLS()
	t.Cleanup(func() { _ = gw.Close(); ts.CloseClientConnections(); ts.Close() })
	client := func(cert string) *http.Client {
		cfg := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12}
		if cert != "" {
			cfg = authzTestClientTLS(t, ca, cert)
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
		t.Cleanup(c.CloseIdleConnections)
		return c
	}
	anon, billingCert := client(""), client("billing-nozzle")
	get := func(c *http.Client, token, query string) (int, string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/v2/read?"+query, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "bearer "+token)
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			var body struct{ Message string }
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			return resp.StatusCode, body.Message
		}
		return resp.StatusCode, ""
	}
	tests := []struct {
		name   string
		c      *http.Client
		token  string
		query  string
		status int
		msg    string
	}{
		{"anonymous joins billing", anon, "", "log&shard_id=billing", http.StatusUnauthorized, "authz: unauthenticated: no client certificate or bearer token"},
		{"unknown token", anon, "nope", "log&source_id=billing", http.StatusUnauthorized, "authz: unauthenticated: unknown bearer token"},
		{"token firehose", anon, "tok-billing", "log", http.StatusForbidden, "authz: permission denied: bearer token may not read every source ID (no firehose grant)"},
		{"token other source", anon, "tok-billing", "log&source_id=payroll", http.StatusForbidden, `authz: permission denied: bearer token may not read source ID "payroll"`},
		{"token own source", anon, "tok-billing", "log&source_id=billing&shard_id=billing", http.StatusOK, ""},
		{"admin token firehose", anon, "tok-admin", "log&shard_id=anything", http.StatusOK, ""},
		{"certificate own source", billingCert, "", "log&source_id=billing", http.StatusOK, ""},
		{"certificate other shard", billingCert, "", "log&source_id=billing&shard_id=x", http.StatusForbidden, `authz: permission denied: certificate "CN=billing-nozzle" may not use shard ID "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := get(tt.c, tt.token, tt.query)
			assert.Equal(t, tt.status, code)
			assert.Equal(t, tt.msg, msg)
		})
	}
	assert.Equal(t, map[string]uint64{RefusedUnauthenticated: 2, RefusedDenied: 3}, gw.Stats().Refused)

	// Reload: billing may now read payroll; a broken file keeps the policy.
	p := authzTestPolicy
	p.Grants = append([]authz.Grant{{Tokens: []string{"tok-billing"}, SourceIDs: []string{"payroll"}}}, p.Grants...)
	write(p)
	require.NoError(t, pol.Reload())
	code, _ := get(anon, "tok-billing", "log&source_id=payroll")
	assert.Equal(t, http.StatusOK, code)
	require.NoError(t, os.WriteFile(path, []byte(`{"grants": [{}]}`), 0o600))
	require.ErrorIs(t, pol.Reload(), authz.ErrInvalidConfig)
	code, _ = get(anon, "tok-billing", "log&source_id=payroll")
	assert.Equal(t, http.StatusOK, code, "the last good policy stays")
}

// TestServerCountsTLSFailures: a plaintext client at a TLS Server is
// counted under not_tls and logged at warn through the Server's logger,
// naming TLS.
func TestServerCountsTLSFailures(t *testing.T) {
	logger, logs := logtest.New(slog.LevelWarn)
	srv, cc := serverTestStart(t, routerTestNew(t), WithLogger(logger))
	c, err := net.Dial("tcp", cc.Target())
	require.NoError(t, err)
	_, err = c.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	require.NoError(t, err)
	_, _ = c.Read(make([]byte, 1))
	c.Close()
	require.Eventually(t, func() bool { return len(srv.Stats().TLSFailures) > 0 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, map[string]uint64{"not_tls": 1}, srv.Stats().TLSFailures)
	assert.Contains(t, logs.String(), `level=WARN msg="egress: TLS handshake failed: the peer does not speak TLS (a plaintext client?)"`)
}

// TestServerMaxConnections: idle connections beyond the limit are closed
// at once and counted; once they go, a real subscriber gets in.
func TestServerMaxConnections(t *testing.T) {
	r := routerTestNew(t)
	srv, cc := serverTestStart(t, r, WithMaxConnections(2))
	connlimittest.Exceed(t, cc.Target(), 2, func() (int, uint64) {
		st := srv.Stats()
		return st.Connections, st.RefusedConnections
	})()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := envelope.NewEgressClient(cc).BatchedReceiver(ctx, routerTestReq("", routerTestLogs("")))
	require.NoError(t, err)
	serverTestWaitSubs(t, r, 1)
	require.NoError(t, r.Publish(serverTestLog(t, 1)))
	b, err := s.Recv()
	require.NoError(t, err)
	assert.Len(t, b.GetBatch(), 1)
	assert.Equal(t, uint64(1), srv.Stats().RefusedConnections)
}

// TestNoPolicyOnlyOnLoopback: without WithAuthorizer a Server refuses to
// serve beyond loopback and a Gateway refuses requests that arrive beyond
// loopback; authz.Open() opens both on purpose.
func TestNoPolicyOnlyOnLoopback(t *testing.T) {
	r := routerTestNew(t)
	srv, err := NewServer(r)
	require.NoError(t, err)
	defer srv.Close()
	_, err = srv.Start("0.0.0.0:0")
	require.ErrorIs(t, err, ErrNoPolicy)
	assert.EqualError(t, err, "serve: no access policy for an address beyond loopback (0.0.0.0:0): give WithAuthorizer a policy, or authz.Open() to let everyone read everything")
	lis, err := net.Listen("tcp", ":0")
	require.NoError(t, err)
	require.ErrorIs(t, srv.Serve(lis), ErrNoPolicy)

	open, err := NewServer(r, WithAuthorizer(authz.Open()))
	require.NoError(t, err)
	defer open.Close()
	_, err = open.Start("0.0.0.0:0")
	require.NoError(t, err)

	gw, err := NewGateway(r)
	require.NoError(t, err)
	defer gw.Close()
	get := func(g *Gateway, local net.Addr) int {
		req := httptest.NewRequest(http.MethodGet, "/v2/read?log", nil)
		ctx, cancel := context.WithCancel(context.WithValue(req.Context(), http.LocalAddrContextKey, local))
		cancel() // a request let in finds its context ended: 503 from Subscribe
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req.WithContext(ctx))
		return rec.Code
	}
	outside := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 8083}
	assert.Equal(t, http.StatusForbidden, get(gw, outside))
	assert.Equal(t, http.StatusServiceUnavailable, get(gw, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8083}))
	assert.Equal(t, map[string]uint64{RefusedDenied: 1}, gw.Stats().Refused)
	gwOpen, err := NewGateway(r, WithAuthorizer(authz.Open()))
	require.NoError(t, err)
	defer gwOpen.Close()
	assert.Equal(t, http.StatusServiceUnavailable, get(gwOpen, outside))
}
