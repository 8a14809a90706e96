package serve_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/sluicelog/sluice/egress/serve"
	"github.com/sluicelog/sluice/envelope"
)

// The Gateway serves Loggregator's GET /v2/read from a Router: a client
// asks for the counters of "app" and reads server-sent events, each frame
// an EnvelopeBatch as JSON.
func ExampleGateway() {
	rt, err := serve.NewRouter()
	if err != nil {
		panic(err)
	}
	defer rt.Close()
	gw, err := serve.NewGateway(rt)
	if err != nil {
		panic(err)
	}
	hs := httptest.NewServer(gw)
	defer hs.Close()
	defer gw.Close() // ends the open stream before the HTTP server closes

	resp, err := http.Get(hs.URL + serve.GatewayPath + "?source_id=app&counter.name=requests")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"))
	// The answer's headers come once the subscription is open.

	e := envelope.NewCounter("app", "requests", 5)
	e.Timestamp = 1700000000000000000
	if err := rt.PublishEnvelope(e); err != nil {
		panic(err)
	}

	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue // blank lines between frames, heartbeats
		}
		var compact bytes.Buffer // protojson spaces its output at random
		if err := json.Compact(&compact, []byte(data)); err != nil {
			panic(err)
		}
		fmt.Println("data:", compact.String())
		break
	}
	// Output:
	// 200 OK text/event-stream
	// data: {"batch":[{"timestamp":"1700000000000000000","source_id":"app","instance_id":"","deprecated_tags":{},"tags":{},"counter":{"name":"requests","delta":"5","total":"0"}}]}
}
