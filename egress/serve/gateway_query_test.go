package serve

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/egress/authz"
)

// TestGatewayQueryLength: a query longer than the limit is refused with
// 400 and the reason before it is parsed or subscribed, and counted; one of
// exactly the limit is served. The default limit refuses a query of many
// source IDs.
func TestGatewayQueryLength(t *testing.T) {
	r := routerTestNew(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	query := func(n int) string { // "log&source_id=aaa…" of n bytes
		return "log&source_id=" + strings.Repeat("a", n-len("log&source_id="))
	}

	gw, ts := gatewayTestStart(t, r, WithMaxQueryBytes(64))
	resp := gatewayTestGet(t, ctx, ts.URL+GatewayPath+"?"+query(65))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var e struct{ Error, Message string }
	require.NoError(t, json.Unmarshal(body, &e), string(body))
	assert.Equal(t, RefusedQueryLength, e.Error)
	assert.Equal(t, "query is 65 bytes long, at most 64", e.Message)
	assert.Equal(t, 0, r.Stats().Subscriptions)

	ok := gatewayTestGet(t, ctx, ts.URL+GatewayPath+"?"+query(64))
	assert.Equal(t, http.StatusOK, ok.StatusCode)
	st := gw.Stats()
	assert.Equal(t, map[string]uint64{RefusedQueryLength: 1}, st.Refused)
	assert.Equal(t, uint64(1), st.RejectedStreams)

	gw2, ts2 := gatewayTestStart(t, r)
	many := "log" + strings.Repeat("&source_id=app-0123456789", 400) // 10 KiB
	resp = gatewayTestGet(t, ctx, ts2.URL+GatewayPath+"?"+many)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, map[string]uint64{RefusedQueryLength: 1}, gw2.Stats().Refused)

	_, err = NewGateway(r, WithMaxQueryBytes(0))
	require.ErrorIs(t, err, ErrInvalidConfig)
}

// TestGatewayMaxClientStreamsByToken: the per-client stream cap counts
// bearer tokens, not addresses: from one address, a token at its cap is
// refused with 429 while another token still gets in.
func TestGatewayMaxClientStreamsByToken(t *testing.T) {
	pol, err := authz.NewPolicyOf(authzTestPolicy)
	require.NoError(t, err)
	r := routerTestNew(t)
	gw, ts := gatewayTestStart(t, r, WithAuthorizer(pol), WithMaxClientStreams(1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	get := func(token string) *http.Response {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+GatewayPath+"?log&shard_id=billing&source_id=billing", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	assert.Equal(t, http.StatusOK, get("tok-billing").StatusCode)
	assert.Equal(t, http.StatusTooManyRequests, get("tok-billing").StatusCode)
	assert.Equal(t, http.StatusOK, get("tok-admin").StatusCode)
	assert.Equal(t, map[string]uint64{RefusedClientStreams: 1}, gw.Stats().Refused)
	assert.Equal(t, 2, gw.Stats().Streams)
}
