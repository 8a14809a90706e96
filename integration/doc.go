// Package integration holds no code: its subpackages test sluice against
// receivers that other projects wrote, such as the OpenTelemetry
// Collector's syslog receiver.
//
// It is its own Go module (github.com/sluicelog/sluice/integration), so
// that those receivers' dependencies never enter the build of sluice's
// core module. The root module's internal/submodules test runs this
// module's tests, so README's one "go test -race ./..." covers them.
package integration
