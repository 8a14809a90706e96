// Package submodules holds no code. Its test runs the tests of the Go
// modules nested in sluice's repository (otlp, integration), which
// "go test ./..." at the root would otherwise skip: they are separate
// modules so that the OpenTelemetry Collector's packages never enter the
// core module's build, and this test keeps README's one test command
// running them.
//
// The test runs "go test ./..." in each nested module with the go command
// that runs it (with -race when it is itself built with -race), and reads
// every Go source, go.mod and go.sum file of the repository, so that
// go test's cache reruns it whenever any of them changes.
package submodules
