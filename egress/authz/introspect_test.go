package authz

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// introspectTestEndpoint is an RFC 7662 endpoint: it checks the client's
// credentials and answers for the tokens it knows, counting calls.
type introspectTestEndpoint struct {
	mu     sync.Mutex
	calls  map[string]int
	tokens map[string]map[string]any
}

func (e *introspectTestEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id, secret, ok := r.BasicAuth(); !ok || id != "sluice" || secret != "pw" || r.Method != http.MethodPost {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	tok := r.PostFormValue("token")
	e.mu.Lock()
	e.calls[tok]++
	e.mu.Unlock()
	ans, ok := e.tokens[tok]
	if !ok {
		ans = map[string]any{"active": false}
	}
	_ = json.NewEncoder(w).Encode(ans)
}

func (e *introspectTestEndpoint) count(tok string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[tok]
}

func TestIntrospector(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	ep := &introspectTestEndpoint{calls: map[string]int{}, tokens: map[string]map[string]any{
		"admin":    {"active": true, "scope": []string{"openid", "doppler.firehose"}, "client_id": "nozzle", "exp": now.Add(time.Hour).Unix()},
		"rfc":      {"active": true, "scope": "openid logs.admin"},
		"user":     {"active": true, "scope": []string{"openid"}, "client_id": "cf", "sub": "alice"},
		"expiring": {"active": true, "scope": "logs.admin", "exp": now.Add(time.Second).Unix()},
	}}
	srv := httptest.NewServer(ep)
	defer srv.Close()
	in, err := NewIntrospector(srv.URL+"/introspect", WithClientCredentials("sluice", "pw"), WithCache(2, time.Minute),
		WithGrants(func(in Introspection) []*Grant {
			if in.Subject == "alice" {
				return []*Grant{{SourceIDs: []string{"alices-app"}}}
			}
			return nil
		}))
	require.NoError(t, err)
	in.now = func() time.Time { return now }
	ctx := context.Background()
	firehose := Request{Firehose: true, ShardID: "audit"}

	assert.NoError(t, in.Authorize(ctx, Identity{Token: "admin"}, firehose))
	assert.NoError(t, in.Authorize(ctx, Identity{Token: "admin"}, firehose))
	assert.Equal(t, 1, ep.count("admin"), "the second answer came from the cache")
	assert.NoError(t, in.Authorize(ctx, Identity{Token: "rfc"}, firehose), "a space-separated scope string")

	err = in.Authorize(ctx, Identity{Token: "user"}, firehose)
	assert.ErrorIs(t, err, ErrDenied)
	assert.EqualError(t, err, `authz: permission denied: bearer token of client "cf" may not read every source ID (no firehose grant)`)
	assert.NoError(t, in.Authorize(ctx, Identity{Token: "user"}, Request{SourceIDs: []string{"alices-app"}}))

	err = in.Authorize(ctx, Identity{Token: "stolen"}, firehose)
	assert.ErrorIs(t, err, ErrUnauthenticated)
	assert.EqualError(t, err, "authz: unauthenticated: bearer token is not active")
	assert.ErrorIs(t, in.Authorize(ctx, Identity{Subject: "CN=x"}, firehose), ErrUnauthenticated)

	// The cache holds 2 tokens: admin was pushed out and is asked again.
	assert.NoError(t, in.Authorize(ctx, Identity{Token: "admin"}, firehose))
	assert.Equal(t, 2, ep.count("admin"))
	in.mu.Lock()
	assert.Len(t, in.cache, 2)
	in.mu.Unlock()

	// A token is trusted no longer than it lives.
	assert.NoError(t, in.Authorize(ctx, Identity{Token: "expiring"}, firehose))
	now = now.Add(2 * time.Second)
	assert.ErrorIs(t, in.Authorize(ctx, Identity{Token: "expiring"}, firehose), ErrUnauthenticated)
	assert.Equal(t, 2, ep.count("expiring"))

	// Wrong client credentials: the endpoint's refusal is an error, not a
	// denial (503 for the caller).
	bad, err := NewIntrospector(srv.URL, WithClientCredentials("sluice", "wrong"))
	require.NoError(t, err)
	err = bad.Authorize(ctx, Identity{Token: "admin"}, firehose)
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrDenied)
	assert.NotErrorIs(t, err, ErrUnauthenticated)
	assert.EqualError(t, err, "authz: introspect: endpoint answered 401 Unauthorized")

	_, err = NewIntrospector("uaa.example.com")
	assert.ErrorIs(t, err, ErrInvalidConfig)
}
