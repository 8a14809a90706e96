package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"google.golang.org/grpc/grpclog"
)

// RouteGRPCLog sends grpc's own log (grpclog, which otherwise writes to
// the standard logger) to logger, so that it honours -log-level: grpc's
// info lines become debug, its warnings info (grpc warns on every
// reconnect; sluice logs what matters, such as failed TLS handshakes, at
// warn itself), its errors error. Call it before any grpc activity.
func RouteGRPCLog(logger *slog.Logger) {
	grpclog.SetLoggerV2(grpcSlog{logger})
}

type grpcSlog struct{ l *slog.Logger }

func (g grpcSlog) log(level slog.Level, msg string) {
	if g.l.Enabled(context.Background(), level) {
		g.l.Log(context.Background(), level, strings.TrimSpace(msg), "from", "grpc")
	}
}

func (g grpcSlog) Info(args ...any)   { g.log(slog.LevelDebug, fmt.Sprint(args...)) }
func (g grpcSlog) Infoln(args ...any) { g.log(slog.LevelDebug, fmt.Sprintln(args...)) }
func (g grpcSlog) Infof(format string, args ...any) {
	g.log(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (g grpcSlog) Warning(args ...any)   { g.log(slog.LevelInfo, fmt.Sprint(args...)) }
func (g grpcSlog) Warningln(args ...any) { g.log(slog.LevelInfo, fmt.Sprintln(args...)) }
func (g grpcSlog) Warningf(format string, args ...any) {
	g.log(slog.LevelInfo, fmt.Sprintf(format, args...))
}
func (g grpcSlog) Error(args ...any)   { g.log(slog.LevelError, fmt.Sprint(args...)) }
func (g grpcSlog) Errorln(args ...any) { g.log(slog.LevelError, fmt.Sprintln(args...)) }
func (g grpcSlog) Errorf(format string, args ...any) {
	g.log(slog.LevelError, fmt.Sprintf(format, args...))
}

// Fatal logs and exits, as grpclog's contract requires.
func (g grpcSlog) Fatal(args ...any) { g.log(slog.LevelError, fmt.Sprint(args...)); os.Exit(1) }
func (g grpcSlog) Fatalln(args ...any) {
	g.log(slog.LevelError, fmt.Sprintln(args...))
	os.Exit(1)
}
func (g grpcSlog) Fatalf(format string, args ...any) {
	g.log(slog.LevelError, fmt.Sprintf(format, args...))
	os.Exit(1)
}

// V reports whether verbosity level l is logged: only at debug.
func (g grpcSlog) V(l int) bool { return g.l.Enabled(context.Background(), slog.LevelDebug) }
