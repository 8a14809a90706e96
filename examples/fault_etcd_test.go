package examples_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// faultEtcdOutage is how long etcd stays down: longer than the routers'
// registration TTL (3s), as the 30s outage is longer than the
// default TTL.
const faultEtcdOutage = 5 * time.Second

// TestFaultEtcdWiped stops etcd while loadgen sends, keeps it down for
// longer than the routers' TTL, and starts it again on the same addresses
// with its data wiped (a fresh data directory): every registration and
// lease is gone. The routers must register again by themselves, the agent
// and the proxy must keep sending to and reading from the routers they know
// throughout, and then find a router that only the new etcd lists. Graceful:
// nothing may be unaccounted.
func TestFaultEtcdWiped(t *testing.T) {
	r := newFaultRig(t, "stream")
	addr, peer := freeAddr(t), freeAddr(t)
	startEtcd := func() *program {
		return startProgram(t, r.bin, "etcd", "-addr", addr, "-peer-addr", peer)
	}
	r.etcd = startEtcd()
	r.start()
	require.Equal(t, 2, etcdRouterKeys(t, r.etcd.addr), "both routers registered")
	// Load long enough to still run when the last router comes back.
	r.startLoad(5000, faultEtcdOutage+20*time.Second)
	time.Sleep(time.Second) //nolint:forbidigo // let traffic flow before the outage
	r.etcd.stop(t)
	down := time.Now()
	// During the outage the routers keep serving what agent and proxy know.
	before := r.routers[0].p.metric(t, "ingress", "component", "ingress_server") + r.routers[1].p.metric(t, "ingress", "component", "ingress_server")
	require.Eventually(t, func() bool {
		return r.routers[0].p.metric(t, "ingress", "component", "ingress_server")+r.routers[1].p.metric(t, "ingress", "component", "ingress_server") > before
	}, faultEtcdOutage, 20*time.Millisecond, "routers took nothing in while etcd was down")
	time.Sleep(faultEtcdOutage - time.Since(down)) //nolint:forbidigo // the outage itself
	r.etcd = startEtcd()                           // same addresses, a fresh data directory
	restarted := time.Now()
	require.Eventually(t, func() bool { return etcdRouterKeys(t, r.etcd.addr) == 2 },
		20*time.Second, 20*time.Millisecond, "the routers never registered again in the wiped etcd")
	reregistered := time.Since(restarted).Round(time.Millisecond)
	t.Logf("etcd down %v; routers registered again %v after the wiped etcd started", restarted.Sub(down).Round(time.Millisecond), reregistered)
	// A third router that only the new etcd knows: the proxy subscribes
	// there and the agent's pool lists it.
	r.routers = append(r.routers, &faultRouter{addr: freeAddr(t)})
	r.startRouter(2)
	r.waitSubscribed(2)
	r.waitAgentRouters(3)
	found := time.Since(restarted).Round(time.Millisecond)
	t.Logf("agent and proxy found a router registered in the wiped etcd %v after it started", found)
	// A graceful restart through the new etcd: the router leaves it (the
	// agent's pool sees it go), registers again, and the agent sends to it
	// again.
	restart := time.Now()
	r.stopRouter(0)
	r.waitAgentRouters(2)
	r.startRouter(0)
	r.recovered(0)
	back := time.Since(restart).Round(time.Millisecond)
	t.Logf("router 0 restarted through the wiped etcd, served again after %v", back)
	lg := r.waitLoad()
	nz := r.finish(lg)
	r.ledger(lg, nz).check(t, "etcd wiped", []time.Duration{reregistered, found, back}, false, 0)
}

// etcdRouterKeys counts the router registrations in etcd, through its JSON
// gateway.
func etcdRouterKeys(t *testing.T, etcdURL string) int {
	const prefix = "/sluice/meta/"
	end := []byte(prefix)
	end[len(end)-1]++
	body := `{"key":"` + base64.StdEncoding.EncodeToString([]byte(prefix)) + `","range_end":"` + base64.StdEncoding.EncodeToString(end) + `","count_only":true}`
	resp, err := http.Post(strings.TrimSuffix(etcdURL, "/")+"/v3/kv/range", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out struct{ Count string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	if out.Count == "" {
		return 0
	}
	n, err := strconv.Atoi(out.Count)
	require.NoError(t, err)
	return n
}

// waitAgentRouters waits until the agent's pool lists n routers.
func (r *faultRig) waitAgentRouters(n int) {
	require.Eventually(r.t, func() bool {
		return r.agent.metric(r.t, "routers", "component", "pool") == float64(n)
	}, 20*time.Second, 20*time.Millisecond, "the agent's pool never listed %d routers", n)
}
