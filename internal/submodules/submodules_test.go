package submodules_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const rootModule = "github.com/sluicelog/sluice"

// TestNestedModules runs "go test ./..." in every module nested in the
// repository.
func TestNestedModules(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the nested modules' tests are not run")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(mod, []byte("module "+rootModule+"\n")), "%s is not sluice's root", root)

	modules := walk(t, root)
	require.NotEmpty(t, modules, "no nested module found")
	// go test puts the go command that runs it first on PATH.
	gobin, err := exec.LookPath("go")
	require.NoError(t, err)
	// The environment the go command reads, so that go test's cache
	// reruns this test when it changes.
	for _, k := range []string{"GOFLAGS", "GOPROXY", "GONOSUMDB", "GOPRIVATE", "GOTOOLCHAIN", "CGO_ENABLED", "CC"} {
		_ = os.Getenv(k)
	}

	ctx := t.Context()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-30*time.Second))
		defer cancel()
	}
	for _, dir := range modules {
		rel, err := filepath.Rel(root, dir)
		require.NoError(t, err)
		t.Run(filepath.ToSlash(rel), func(t *testing.T) {
			args := []string{"test"}
			if raceEnabled {
				args = append(args, "-race")
			}
			args = append(args, "./...")
			cmd := exec.CommandContext(ctx, gobin, args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOWORK=off")
			out, err := cmd.CombinedOutput()
			t.Logf("go %s (in %s):\n%s", strings.Join(args, " "), rel, out)
			if ctx.Err() != nil {
				t.Fatalf("stopped at the test's deadline: the first run compiles the OpenTelemetry Collector's receivers; run again (the build is cached) or give go test a longer -timeout")
			}
			require.NoError(t, err, "go test in %s failed", rel)
		})
	}
}

// walk returns the directories under root, root excluded, that hold a
// go.mod, and reads every Go source, go.mod and go.sum file on the way.
func walk(t *testing.T, root string) []string {
	t.Helper()
	var modules []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") && name != "go.mod" && name != "go.sum" {
			return nil
		}
		if _, err := os.ReadFile(path); err != nil {
			return err
		}
		if name == "go.mod" && filepath.Dir(path) != root {
			modules = append(modules, filepath.Dir(path))
		}
		return nil
	})
	require.NoError(t, err)
	return modules
}
