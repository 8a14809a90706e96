package etcd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sluicelog/sluice/discovery"
	"github.com/sluicelog/sluice/discovery/etcd"
)

// A router registers itself; agents watch the prefix and fall back to a
// static list while etcd knows nothing. Needs a running etcd, so this
// example is compiled but not run.
func Example() {
	client, err := clientv3.New(etcd.ClientConfig("http://127.0.0.1:2379"))
	if err != nil {
		return
	}
	defer client.Close()

	// In the router:
	reg, err := etcd.NewRegistrar(client,
		discovery.Endpoint{ID: "router-0", Addr: "10.0.0.5:8082", Zone: "z1"},
		etcd.WithTTL(10*time.Second))
	if err != nil {
		return
	}
	defer reg.Shutdown(context.Background()) // revoke: watchers drop it at once

	// In the agent:
	routers, err := etcd.NewWatcher(client)
	if err != nil {
		return
	}
	defer routers.Close()
	src := discovery.First(routers, discovery.NewStatic(discovery.Endpoint{Addr: "10.0.0.5:8082"}))
	for st := range src.Subscribe(context.Background()) {
		fmt.Println(st.Endpoints, st.Age(time.Now()), st.Err)
	}
}

// The value under a registration key, as sluice writes it and as
// Loggregator's dopplers write it (URL strings).
func ExampleRegistration() {
	for _, value := range []string{
		`{"version":1,"endpoints":[{"id":"r1","addr":"10.0.0.5:8082","zone":"z1","metadata":{"job":"router"}}]}`,
		`{"version":1,"endpoints":["udp://10.0.0.6:3457","tcp://10.0.0.6:3458"]}`,
	} {
		var r etcd.Registration
		if err := json.Unmarshal([]byte(value), &r); err != nil {
			fmt.Println(err)
			continue
		}
		for _, ep := range r.Endpoints {
			fmt.Printf("id=%q addr=%s zone=%q metadata=%v\n", ep.ID, ep.Addr, ep.Zone, ep.Metadata)
		}
	}
	// Output:
	// id="r1" addr=10.0.0.5:8082 zone="z1" metadata=map[job:router]
	// id="" addr=10.0.0.6:3457 zone="" metadata=map[scheme:udp]
	// id="" addr=10.0.0.6:3458 zone="" metadata=map[scheme:tcp]
}
