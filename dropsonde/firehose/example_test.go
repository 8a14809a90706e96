package firehose_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sluicelog/sluice/dropsonde/firehose"
	"github.com/sluicelog/sluice/egress/authz"
	"github.com/sluicelog/sluice/egress/serve"
)

// A router serves the v1 websocket firehose beside its gRPC Egress: the
// Handler subscribes at the router like any egress stream. Only requests
// for one app are let in here.
func ExampleNewHandler() {
	router, err := serve.NewRouter()
	if err != nil {
		panic(err)
	}
	defer router.Close()
	h, err := firehose.NewHandler(router, firehose.WithAuthorizer(authz.AuthorizerFunc(func(_ context.Context, _ authz.Identity, req authz.Request) error {
		if req.Firehose {
			return fmt.Errorf("%w: the whole firehose needs an admin grant", authz.ErrDenied)
		}
		return nil
	})))
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close()

	resp, err := http.Get(srv.URL + "/firehose/my-nozzle")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output: 403 Forbidden
}
