package authz

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"sync/atomic"
)

// PolicyFile is the JSON form of a Policy:
//
//	{"grants": [
//	  {"subjects": ["CN=billing-nozzle,O=acme"], "source_ids": ["billing"], "shard_ids": ["billing"]},
//	  {"tokens": ["s3cret"], "firehose": true, "shard_ids": ["*"]}
//	]}
type PolicyFile struct {
	Grants []Grant `json:"grants"`
}

// Grant is what some identities may read. An identity matches a grant when
// its certificate subject is one of Subjects, one of its certificate's
// subject alternative names is one of Names, or its bearer token is one of
// Tokens. An identity that matches several grants has their union.
type Grant struct {
	Subjects []string `json:"subjects,omitempty"`
	Names    []string `json:"names,omitempty"`
	Tokens   []string `json:"tokens,omitempty"`
	// Firehose allows requests for every source ID (and so any source ID).
	Firehose bool `json:"firehose,omitempty"`
	// SourceIDs are the source IDs the holders may read.
	SourceIDs []string `json:"source_ids,omitempty"`
	// ShardIDs are the shard IDs the holders may use ("*": any). The empty
	// shard ID is always allowed.
	ShardIDs []string `json:"shard_ids,omitempty"`
}

// Policy is an Authorizer over a table of grants, read from a file and
// replaced whole by Reload (readers never see half a table).
type Policy struct {
	path  string
	table atomic.Pointer[policyTable]
}

type policyTable struct {
	bySubject map[string][]*Grant
	byName    map[string][]*Grant
	byToken   map[[sha256.Size]byte][]*Grant // keyed by the token's hash
}

// NewPolicy reads the policy file at path (see PolicyFile).
func NewPolicy(path string) (*Policy, error) {
	p := &Policy{path: path}
	if err := p.Reload(); err != nil {
		return nil, err
	}
	return p, nil
}

// NewPolicyOf returns a Policy over f, which Reload cannot change.
func NewPolicyOf(f PolicyFile) (*Policy, error) {
	t, err := policyTableOf(f)
	if err != nil {
		return nil, err
	}
	p := &Policy{}
	p.table.Store(t)
	return p, nil
}

// Reload reads the file again. When it cannot be read or is invalid, the
// policy in force stays and the error says why.
func (p *Policy) Reload() error {
	if p.path == "" {
		return nil
	}
	b, err := os.ReadFile(p.path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	var f PolicyFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidConfig, p.path, err)
	}
	t, err := policyTableOf(f)
	if err != nil {
		return fmt.Errorf("%s: %w", p.path, err)
	}
	p.table.Store(t)
	return nil
}

func policyTableOf(f PolicyFile) (*policyTable, error) {
	t := &policyTable{
		bySubject: make(map[string][]*Grant),
		byName:    make(map[string][]*Grant),
		byToken:   make(map[[sha256.Size]byte][]*Grant),
	}
	for i := range f.Grants {
		g := &f.Grants[i]
		if len(g.Subjects)+len(g.Names)+len(g.Tokens) == 0 {
			return nil, fmt.Errorf("%w: grant %d names no subject, name or token", ErrInvalidConfig, i)
		}
		for _, s := range g.Subjects {
			t.bySubject[s] = append(t.bySubject[s], g)
		}
		for _, n := range g.Names {
			t.byName[n] = append(t.byName[n], g)
		}
		for _, tok := range g.Tokens {
			if tok == "" {
				return nil, fmt.Errorf("%w: grant %d has an empty token", ErrInvalidConfig, i)
			}
			h := sha256.Sum256([]byte(tok))
			t.byToken[h] = append(t.byToken[h], g)
		}
	}
	return t, nil
}

// Authorize allows req when the grants id matches allow all of it.
func (p *Policy) Authorize(_ context.Context, id Identity, req Request) error {
	if id.Empty() {
		return fmt.Errorf("%w: no client certificate or bearer token", ErrUnauthenticated)
	}
	t := p.table.Load()
	var gs []*Grant
	gs = append(gs, t.bySubject[id.Subject]...)
	for _, n := range id.Names {
		gs = append(gs, t.byName[n]...)
	}
	if id.Token != "" {
		gs = append(gs, t.byToken[sha256.Sum256([]byte(id.Token))]...)
	}
	who := id.who()
	if len(gs) == 0 {
		if id.Subject == "" && len(id.Names) == 0 {
			return fmt.Errorf("%w: unknown bearer token", ErrUnauthenticated)
		}
		return fmt.Errorf("%w: no grant for %s", ErrDenied, who)
	}
	return Check(gs, who, req)
}

// Check allows req when the union of grants allows all of it; who names
// the caller in the refusal. Authorizers that build grants their own way
// (from a token's scopes, say) use it to decide as a Policy does.
func Check(grants []*Grant, who string, req Request) error {
	firehose := false
	for _, g := range grants {
		firehose = firehose || g.Firehose
	}
	if req.Firehose && !firehose {
		return fmt.Errorf("%w: %s may not read every source ID (no firehose grant)", ErrDenied, who)
	}
	if !firehose {
		for _, id := range req.SourceIDs {
			if !grantsHave(grants, func(g *Grant) []string { return g.SourceIDs }, id, false) {
				return fmt.Errorf("%w: %s may not read source ID %q", ErrDenied, who, id)
			}
		}
	}
	if req.ShardID != "" && !grantsHave(grants, func(g *Grant) []string { return g.ShardIDs }, req.ShardID, true) {
		return fmt.Errorf("%w: %s may not use shard ID %q", ErrDenied, who, req.ShardID)
	}
	return nil
}

// grantsHave reports whether a grant's list has v (or "*" where star is
// set: shard IDs have a wildcard, source IDs do not).
func grantsHave(grants []*Grant, list func(*Grant) []string, v string, star bool) bool {
	for _, g := range grants {
		for _, x := range list(g) {
			if x == v || (star && x == "*") {
				return true
			}
		}
	}
	return false
}

// who names an identity in refusals, never quoting a token.
func (id Identity) who() string {
	switch {
	case id.Subject != "":
		return fmt.Sprintf("certificate %q", id.Subject)
	case len(id.Names) > 0:
		return fmt.Sprintf("certificate for %q", id.Names[0])
	default:
		return "bearer token"
	}
}

var _ Authorizer = (*Policy)(nil)
