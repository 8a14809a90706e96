package harness

import (
	"github.com/sluicelog/sluice/stats"
	"github.com/sluicelog/sluice/telemetry"
)

// Components names the router's parts for telemetry: ingress_server,
// ingress_buffer, router, egress_server and, when it has one, gateway.
func (r *Router) Components() []telemetry.Component {
	cs := []telemetry.Component{
		{Name: "ingress_server", Reporter: r.Ingress},
		{Name: "ingress_buffer", Reporter: r.IngressBuffer},
		{Name: "router", Reporter: r.Router},
		{Name: "egress_server", Reporter: r.Egress},
	}
	if r.Gateway != nil {
		cs = append(cs, telemetry.Component{Name: "gateway", Reporter: r.Gateway})
	}
	return cs
}

// Components names the agent's parts for telemetry: ingress_server,
// ingress_buffer, forwarder and pool.
func (a *Agent) Components() []telemetry.Component {
	return []telemetry.Component{
		{Name: "ingress_server", Reporter: a.Ingress},
		{Name: "ingress_buffer", Reporter: a.Buffer},
		{Name: "forwarder", Reporter: a.Forwarder},
		{Name: "pool", Reporter: a.Pool},
	}
}

// Components names the proxy's parts for telemetry: firehose (its
// subscribers' Firehoses summed by shard ID, closed ones included, so
// counters never go back), egress_server and, when it has one, gateway.
func (p *Proxy) Components() []telemetry.Component {
	firehoses := telemetry.Sum(func() []stats.Reporter {
		subs := p.Firehoses()
		rs := make([]stats.Reporter, len(subs))
		for i, s := range subs {
			rs[i] = s.Firehose
		}
		return rs
	})
	cs := []telemetry.Component{
		{Name: "firehose", Reporter: firehoses},
		{Name: "egress_server", Reporter: p.Egress},
	}
	if p.Gateway != nil {
		cs = append(cs, telemetry.Component{Name: "gateway", Reporter: p.Gateway})
	}
	return cs
}
