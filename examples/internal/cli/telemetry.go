package cli

import (
	"log/slog"

	"github.com/sluicelog/sluice/examples/internal/metrics"
	"github.com/sluicelog/sluice/telemetry"
)

// StartTelemetry serves cs at -metrics-addr and emits them to -agent-addr
// (dialed with -agent-tls-*) as envelopes with sourceID; labels go on every
// series and envelope. It returns nil (a no-op) when both flags are empty.
func (c *Common) StartTelemetry(sourceID string, labels map[string]string, logger *slog.Logger, cs []telemetry.Component) (*metrics.Telemetry, error) {
	agentTLS, err := c.AgentTLS.ClientConfig()
	if err != nil {
		return nil, err
	}
	return metrics.Start(metrics.Config{
		MetricsAddr: c.MetricsAddr, AgentAddr: c.AgentAddr, AgentTLS: agentTLS,
		SourceID: sourceID, Labels: labels, Logger: logger, Handlers: c.handlers,
	}, cs)
}
