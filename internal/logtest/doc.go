// Package logtest captures a component's log lines in tests: a logger
// writing slog's text format into a buffer that is safe for the
// component's goroutines.
package logtest
