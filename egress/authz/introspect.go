package authz

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults of an Introspector.
const (
	// DefaultCacheSize is how many tokens an Introspector remembers.
	DefaultCacheSize = 10_000
	// DefaultCacheTTL is how long it trusts an answer (less when the token
	// expires sooner).
	DefaultCacheTTL = time.Minute
)

// DefaultFirehoseScopes are the scopes that grant the whole firehose, as
// Loggregator's gateway reads them from a UAA token.
var DefaultFirehoseScopes = []string{"doppler.firehose", "logs.admin"}

// Introspection is what an introspection endpoint said of a token (RFC 7662
// section 2.2; the members UAA also sends).
type Introspection struct {
	Active   bool
	Scopes   []string
	ClientID string
	Subject  string
	Expires  time.Time // zero: not said
}

// Introspector is an Authorizer that checks bearer tokens against an OAuth2
// token introspection endpoint (RFC 7662; UAA serves one at
// /introspect). A token with one of the firehose scopes may read
// everything in any shard group; what other tokens may read is what the
// grant function gives them (default: nothing). Answers are cached, at most
// a bounded number of tokens for a bounded time.
type Introspector struct {
	endpoint     string
	clientID     string
	clientSecret string
	client       *http.Client
	scopes       []string
	grants       func(Introspection) []*Grant
	size         int
	ttl          time.Duration
	now          func() time.Time

	mu    sync.Mutex
	cache map[[sha256.Size]byte]introspected
	added uint64 // answers cached so far: the order of entries
}

type introspected struct {
	in      Introspection
	expires time.Time
	seq     uint64 // when it was cached (Introspector.added)
}

// IntrospectorOption configures an Introspector.
type IntrospectorOption func(*Introspector) error

// WithClientCredentials authenticates the Introspector to the endpoint
// with HTTP basic authentication (UAA wants a client with uaa.resource).
func WithClientCredentials(id, secret string) IntrospectorOption {
	return func(i *Introspector) error { i.clientID, i.clientSecret = id, secret; return nil }
}

// WithHTTPClient sets the client that calls the endpoint (default: one
// with a 10 s timeout). Set its TLS config to trust the endpoint.
func WithHTTPClient(c *http.Client) IntrospectorOption {
	return func(i *Introspector) error {
		if c != nil {
			i.client = c
		}
		return nil
	}
}

// WithFirehoseScopes sets the scopes that grant the whole firehose
// (default DefaultFirehoseScopes).
func WithFirehoseScopes(scopes ...string) IntrospectorOption {
	return func(i *Introspector) error { i.scopes = scopes; return nil }
}

// WithGrants sets what active tokens without a firehose scope may read,
// e.g. the source IDs of the apps their user may see.
func WithGrants(f func(Introspection) []*Grant) IntrospectorOption {
	return func(i *Introspector) error {
		if f != nil {
			i.grants = f
		}
		return nil
	}
}

// WithCache sets how many tokens are remembered and for how long
// (defaults DefaultCacheSize and DefaultCacheTTL).
func WithCache(size int, ttl time.Duration) IntrospectorOption {
	return func(i *Introspector) error {
		if size < 1 || ttl <= 0 {
			return fmt.Errorf("%w: cache size %d and TTL %v must be positive", ErrInvalidConfig, size, ttl)
		}
		i.size, i.ttl = size, ttl
		return nil
	}
}

// NewIntrospector returns an Introspector asking endpoint (an absolute
// http or https URL).
func NewIntrospector(endpoint string, opts ...IntrospectorOption) (*Introspector, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: introspection endpoint %q is not an http(s) URL", ErrInvalidConfig, endpoint)
	}
	i := &Introspector{
		endpoint: endpoint,
		client:   &http.Client{Timeout: 10 * time.Second},
		scopes:   DefaultFirehoseScopes,
		grants:   func(Introspection) []*Grant { return nil },
		size:     DefaultCacheSize,
		ttl:      DefaultCacheTTL,
		now:      time.Now,
		cache:    make(map[[sha256.Size]byte]introspected),
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(i); err != nil {
			return nil, err
		}
	}
	return i, nil
}

// Authorize checks id's bearer token. Requests without one are refused
// with ErrUnauthenticated; an endpoint that fails gives an error wrapping
// neither ErrDenied nor ErrUnauthenticated (the caller answers 503).
func (i *Introspector) Authorize(ctx context.Context, id Identity, req Request) error {
	if id.Token == "" {
		return fmt.Errorf("%w: no bearer token", ErrUnauthenticated)
	}
	in, err := i.Introspect(ctx, id.Token)
	if err != nil {
		return err
	}
	if !in.Active || (!in.Expires.IsZero() && !i.now().Before(in.Expires)) {
		return fmt.Errorf("%w: bearer token is not active", ErrUnauthenticated)
	}
	var grants []*Grant
	for _, s := range in.Scopes {
		for _, f := range i.scopes {
			if s == f {
				grants = append(grants, &Grant{Firehose: true, ShardIDs: []string{"*"}})
			}
		}
	}
	grants = append(grants, i.grants(in)...)
	who := "bearer token"
	if in.ClientID != "" {
		who = fmt.Sprintf("bearer token of client %q", in.ClientID)
	}
	if len(grants) == 0 {
		return fmt.Errorf("%w: %s has none of the scopes %s and no other grant", ErrDenied, who, strings.Join(i.scopes, ", "))
	}
	return Check(grants, who, req)
}

// Introspect returns what the endpoint says of token, from the cache when
// it answered within the cache TTL.
func (i *Introspector) Introspect(ctx context.Context, token string) (Introspection, error) {
	key := sha256.Sum256([]byte(token))
	now := i.now()
	i.mu.Lock()
	c, ok := i.cache[key]
	i.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.in, nil
	}
	in, err := i.ask(ctx, token)
	if err != nil {
		return Introspection{}, err
	}
	exp := now.Add(i.ttl)
	if !in.Expires.IsZero() && in.Expires.Before(exp) {
		exp = in.Expires
	}
	i.mu.Lock()
	if _, ok := i.cache[key]; !ok && len(i.cache) >= i.size {
		// Full: forget the expired, or else the entry cached first (not
		// any one: which token is asked again must not depend on the map's
		// order).
		oldest, seq := key, ^uint64(0)
		for k, v := range i.cache {
			switch {
			case !now.Before(v.expires):
				delete(i.cache, k)
			case v.seq < seq:
				oldest, seq = k, v.seq
			}
		}
		if len(i.cache) >= i.size {
			delete(i.cache, oldest)
		}
	}
	i.added++
	i.cache[key] = introspected{in: in, expires: exp, seq: i.added}
	i.mu.Unlock()
	return in, nil
}

func (i *Introspector) ask(ctx context.Context, token string) (Introspection, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, i.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return Introspection{}, fmt.Errorf("authz: introspect: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if i.clientID != "" {
		req.SetBasicAuth(url.QueryEscape(i.clientID), url.QueryEscape(i.clientSecret))
	}
	resp, err := i.client.Do(req)
	if err != nil {
		return Introspection{}, fmt.Errorf("authz: introspect: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Introspection{}, fmt.Errorf("authz: introspect: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Introspection{}, fmt.Errorf("authz: introspect: endpoint answered %s", resp.Status)
	}
	var raw struct {
		Active   bool            `json:"active"`
		Scope    json.RawMessage `json:"scope"` // RFC 7662: a space-separated string; UAA: an array
		ClientID string          `json:"client_id"`
		Sub      string          `json:"sub"`
		Exp      int64           `json:"exp"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return Introspection{}, fmt.Errorf("authz: introspect: %w", err)
	}
	in := Introspection{Active: raw.Active, ClientID: raw.ClientID, Subject: raw.Sub}
	if raw.Exp > 0 {
		in.Expires = time.Unix(raw.Exp, 0)
	}
	if len(raw.Scope) > 0 {
		var s string
		if json.Unmarshal(raw.Scope, &s) == nil {
			in.Scopes = strings.Fields(s)
		} else if err := json.Unmarshal(raw.Scope, &in.Scopes); err != nil {
			return Introspection{}, fmt.Errorf("authz: introspect: scope: %w", err)
		}
	}
	return in, nil
}

var _ Authorizer = (*Introspector)(nil)
