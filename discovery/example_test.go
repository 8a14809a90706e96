package discovery_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sluicelog/sluice/discovery"
)

func ExampleNewStatic() {
	routers := discovery.NewStatic(
		discovery.Endpoint{ID: "r2", Addr: "10.0.1.5:8082", Zone: "z2"},
		discovery.Endpoint{ID: "r1", Addr: "10.0.0.5:8082", Zone: "z1"},
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	updates := routers.Subscribe(ctx)

	st := <-updates // the current set, at once
	for _, e := range st.Endpoints {
		fmt.Println(e.ID, e.Addr, e.Zone)
	}
	routers.Set(discovery.Endpoint{ID: "r3", Addr: "10.0.2.5:8082", Zone: "z3"})
	st = <-updates
	fmt.Println(len(st.Endpoints), st.Endpoints[0].ID, st.Err)
	// Output:
	// r1 10.0.0.5:8082 z1
	// r2 10.0.1.5:8082 z2
	// 1 r3 <nil>
}

// A source of your own: a pretend Kubernetes or Consul client wrapped in
// Poll, which keeps the last good set when the lookup fails.
func ExamplePoll() {
	var apiDown atomic.Bool
	lookupRouters := func(ctx context.Context) ([]discovery.Endpoint, error) {
		if apiDown.Load() {
			return nil, errors.New("consul: connection refused")
		}
		// Here a real source would list the service's healthy instances.
		return []discovery.Endpoint{
			{ID: "router-0", Addr: "10.0.0.5:8082", Zone: "z1"},
			{ID: "router-1", Addr: "10.0.1.5:8082", Zone: "z2"},
		}, nil
	}

	src, err := discovery.Poll(lookupRouters, 10*time.Millisecond)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for st := range src.Subscribe(ctx) {
		if st.Err == nil {
			fmt.Println("fresh:", len(st.Endpoints), "routers")
			apiDown.Store(true)
			continue
		}
		if !errors.Is(st.Err, discovery.ErrPending) {
			fmt.Println("stale:", len(st.Endpoints), "routers,", st.Err)
			break
		}
	}
	// Output:
	// fresh: 2 routers
	// stale: 2 routers, consul: connection refused
}

func ExampleFirst() {
	broken, _ := discovery.Poll(func(context.Context) ([]discovery.Endpoint, error) {
		return nil, errors.New("etcd: no leader")
	}, time.Hour)
	defer broken.Close()
	fallback := discovery.NewStatic(discovery.Endpoint{Addr: "10.0.0.5:8082"})

	src := discovery.First(broken, fallback)
	fmt.Println(src.State().Endpoints[0].Addr, src.State().Err)
	// Output:
	// 10.0.0.5:8082 <nil>
}

// An agent in zone z1 prefers the routers of its zone. Needs DNS, so this
// example is compiled but not run.
func ExampleNewDNS() {
	routers, err := discovery.NewDNS("routers.service.internal",
		discovery.WithPort(8082),
		discovery.WithZoneName("z1", "z1.routers.service.internal"),
		discovery.WithInterval(15*time.Second))
	if err != nil {
		return
	}
	defer routers.Close()
	fmt.Println(routers.State())
}
