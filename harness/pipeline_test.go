package harness_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/harness"
)

// Every envelope sent through the two-hop pipeline is delivered or counted
// dropped by exactly one hop, and each hop's own books balance.
func TestPipelineAccountsForEveryEnvelope(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a hang guard; 50,000 envelopes under -race on a loaded machine took over a minute
	defer cancel()
	p, err := harness.StartPipeline(ctx)
	require.NoError(t, err)
	defer p.Close()
	const n = 50000
	require.NoError(t, harness.Send(ctx, p.Agent.Addr(), harness.BenchBatch(100), n))
	require.NoError(t, p.Wait(ctx, n))
	assert.Equal(t, uint64(n), p.Delivered()+p.Dropped())

	ab := p.Agent.Buffer.Stats()
	assert.Equal(t, uint64(n), ab.Written, "agent ingress accepted every envelope")
	assert.Equal(t, ab.Written, ab.Read+ab.Dropped)
	fs := p.Agent.Forwarder.Stats()
	fd := uint64(0)
	for _, v := range fs.Dropped {
		fd += v
	}
	assert.Equal(t, ab.Read, fs.Egress+fd, "forwarder: read == egress + dropped")
	rb := p.Router.Buffer.Stats()
	assert.Equal(t, fs.Egress, rb.Written, "router received what the agent sent")
	assert.Equal(t, rb.Written, rb.Read+rb.Dropped)
	rs := p.Router.Router.Stats()
	assert.Equal(t, rb.Read, rs.Ingress)
	assert.Equal(t, rs.Ingress, rs.Egress, "one subscription: one copy each")
	es := p.Router.Egress.Stats()
	rd := p.Reader.Stats()
	assert.Equal(t, rs.Egress, es.Egress+rs.Dropped.Total()+es.Dropped.Total(), "router egress == sent + dropped")
	assert.Equal(t, es.Egress, rd.Received, "the subscriber received what the router sent")
	assert.Equal(t, rd.Received, rd.Delivered+rd.Dropped.Total())
}
