package sluice_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The rules of who may import whom, checked on every package of the module
// as `go list` sees it, so that a package added later (egress/forward,
// egress/serve, ...) is held to the rules of the tree it joins.

const module = "github.com/sluicelog/sluice"

// heavyLibraries are what a nozzle or router built on sluice must not
// compile: etcd's client, its logger and a DNS library.
var heavyLibraries = []string{"go.etcd.io", "go.uber.org/zap", "github.com/miekg/dns"}

// importRule forbids packages under the prefixes in from (relative to the
// module; "" is every package), except those under except, to depend on a
// package under forbid (import paths; relative ones are module packages),
// or, when only is set, on a module package outside only. Dependencies are
// transitive and without tests; with tests set, the direct imports of the
// package's tests count too.
type importRule struct {
	name   string
	from   []string
	except []string
	forbid []string
	only   []string
	tests  bool
}

func importRules(pkgs []listedPackage) []importRule {
	rules := []importRule{
		{
			name:   "only discovery/etcd, discoverytest, harness and examples compile etcd, zap or a DNS library",
			from:   []string{""},
			except: []string{"discovery/etcd", "discovery/discoverytest", "harness", "examples"},
			forbid: heavyLibraries,
		},
		{
			name:   "only dropsonde/firehose compiles the websocket library (and what may compile etcd)",
			from:   []string{""},
			except: []string{"dropsonde/firehose", "discovery/etcd", "discovery/discoverytest", "harness", "examples"},
			forbid: []string{"github.com/gorilla/websocket"},
		},
		{name: "envelope imports nothing of sluice", from: []string{"envelope"}, only: []string{"envelope"}},
		{name: "diode imports nothing of sluice", from: []string{"diode"}, only: []string{"diode"}},
		{name: "stats imports nothing of sluice", from: []string{"stats"}, only: []string{"stats"}},
		{name: "egress/authz imports nothing of sluice", from: []string{"egress/authz"}, only: []string{"egress/authz"}},
		{name: "ingress does not import egress", from: []string{"ingress"}, forbid: []string{"egress"}},
		{name: "egress does not import ingress", from: []string{"egress"}, forbid: []string{"ingress"}},
		{name: "egress does not import nozzle", from: []string{"egress"}, forbid: []string{"nozzle"}},
		{
			name:   "discovery knows addresses, not envelopes",
			from:   []string{"discovery"},
			forbid: []string{"envelope", "ingress", "egress", "nozzle", "harness"},
		},
		{
			name: "nozzle uses envelope, diode, discovery and stats only",
			from: []string{"nozzle"},
			only: []string{"nozzle", "envelope", "diode", "discovery", "stats", "internal"},
		},
		{name: "nothing imports examples", from: []string{""}, except: []string{"examples"}, forbid: []string{"examples"}, tests: true},
	}
	// The agent's way out and the router's side are sibling packages under
	// egress; neither imports the other (shared code goes to internal).
	// egress/authz, who may read what, is a leaf any of them may use.
	for _, a := range children(pkgs, "egress") {
		for _, b := range children(pkgs, "egress") {
			if a != b && b != "egress/internal" && b != "egress/authz" {
				rules = append(rules, importRule{name: a + " does not import " + b, from: []string{a}, forbid: []string{b}})
			}
		}
	}
	return rules
}

// listedPackage is what `go list -json` says of a package; paths are
// relative to the module for its own packages.
type listedPackage struct {
	ImportPath   string
	Deps         []string
	TestImports  []string
	XTestImports []string
}

// under reports whether path is prefix or inside it ("" holds everything).
func under(path, prefix string) bool {
	return prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")
}

func underAny(path string, prefixes []string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return under(path, p) })
}

// matching returns the prefix of prefixes that path is under, or "".
func matching(path string, prefixes []string) string {
	for _, p := range prefixes {
		if under(path, p) {
			return p
		}
	}
	return ""
}

// children returns the distinct first-level packages below parent that
// hold a package, e.g. egress/forward for egress/forward/x.
func children(pkgs []listedPackage, parent string) []string {
	var out []string
	for _, p := range pkgs {
		rest, ok := strings.CutPrefix(p.ImportPath, parent+"/")
		if !ok {
			continue
		}
		child := parent + "/" + strings.Split(rest, "/")[0]
		if !slices.Contains(out, child) {
			out = append(out, child)
		}
	}
	return out
}

// violations lists every dependency that breaks a rule, as
// "rule: package -> forbidden prefix (or, for an only rule, package)".
func violations(pkgs []listedPackage, rules []importRule) []string {
	var out []string
	for _, r := range rules {
		for _, p := range pkgs {
			if !underAny(p.ImportPath, r.from) || underAny(p.ImportPath, r.except) {
				continue
			}
			deps := p.Deps
			if r.tests {
				deps = slices.Concat(deps, p.TestImports, p.XTestImports)
			}
			for _, d := range deps {
				rel, own := strings.CutPrefix(d, module+"/")
				var bad string // what the package may not depend on
				switch {
				case !own:
					bad = matching(d, r.forbid)
				case rel == p.ImportPath:
					// a package's own tests
				case r.only != nil:
					if !underAny(rel, r.only) {
						bad = rel
					}
				default:
					bad = matching(rel, r.forbid)
				}
				if bad != "" {
					out = append(out, fmt.Sprintf("%s: %s -> %s", r.name, p.ImportPath, bad))
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// listModule runs `go list -json ./...` in the module root (the test's
// directory) and returns its packages with module-relative paths.
func listModule(t *testing.T) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Deps,TestImports,XTestImports", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.True(t, under(p.ImportPath, module), "package %s outside the module", p.ImportPath)
		p.ImportPath = strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestImportRules(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	pkgs := listModule(t)
	var paths []string
	for _, p := range pkgs {
		paths = append(paths, p.ImportPath)
	}
	// A listing that lost packages would pass every rule.
	for _, want := range []string{"", "envelope", "diode", "ingress", "egress", "discovery", "discovery/etcd", "nozzle", "telemetry", "harness"} {
		require.Contains(t, paths, want)
	}
	rules := importRules(pkgs)
	for _, r := range rules {
		assert.True(t, slices.ContainsFunc(paths, func(p string) bool { return underAny(p, r.from) }),
			"rule %q applies to no package", r.name)
	}
	for _, v := range violations(pkgs, rules) {
		t.Error(v)
	}
}

// The checker itself, on made-up packages: each case breaks one rule.
func TestImportRulesCatch(t *testing.T) {
	m := func(rel string) string { return module + "/" + rel }
	tests := []struct {
		name string
		pkg  listedPackage
		want string
	}{
		{
			name: "etcd through discovery",
			pkg:  listedPackage{ImportPath: "egress/forward", Deps: []string{m("discovery"), "go.etcd.io/etcd/client/v3"}},
			want: "only discovery/etcd, discoverytest, harness and examples compile etcd, zap or a DNS library: egress/forward -> go.etcd.io",
		},
		{
			name: "zap in a new internal package",
			pkg:  listedPackage{ImportPath: "internal/newthing", Deps: []string{"go.uber.org/zap/zapcore"}},
			want: "only discovery/etcd, discoverytest, harness and examples compile etcd, zap or a DNS library: internal/newthing -> go.uber.org/zap",
		},
		{
			name: "envelope on internal",
			pkg:  listedPackage{ImportPath: "envelope", Deps: []string{m("internal/wire")}},
			want: "envelope imports nothing of sluice: envelope -> internal/wire",
		},
		{
			name: "egress subpackage on ingress",
			pkg:  listedPackage{ImportPath: "egress/serve", Deps: []string{m("ingress")}},
			want: "egress does not import ingress: egress/serve -> ingress",
		},
		{
			name: "egress on nozzle",
			pkg:  listedPackage{ImportPath: "egress/serve/x", Deps: []string{m("nozzle")}},
			want: "egress does not import nozzle: egress/serve/x -> nozzle",
		},
		{
			name: "agent side on router side",
			pkg:  listedPackage{ImportPath: "egress/forward", Deps: []string{m("egress/serve")}},
			want: "egress/forward does not import egress/serve: egress/forward -> egress/serve",
		},
		{
			name: "nozzle on egress",
			pkg:  listedPackage{ImportPath: "nozzle", Deps: []string{m("egress")}},
			want: "nozzle uses envelope, diode, discovery and stats only: nozzle -> egress",
		},
		{
			name: "a test imports examples",
			pkg:  listedPackage{ImportPath: "harness", XTestImports: []string{m("examples/internal/cli")}},
			want: "nothing imports examples: harness -> examples",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs := []listedPackage{
				tt.pkg,
				{ImportPath: "egress/forward"},
				{ImportPath: "discovery/etcd", Deps: []string{"go.etcd.io/etcd/client/v3", "go.uber.org/zap"}},
				{ImportPath: "egress/internal/shared"},
				{ImportPath: "egress/serve", Deps: []string{m("egress/internal/shared"), m("discovery")}},
			}
			assert.Equal(t, []string{tt.want}, violations(pkgs, importRules(pkgs)))
		})
	}
}
