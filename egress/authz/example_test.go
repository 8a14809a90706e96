package authz_test

import (
	"context"
	"fmt"

	"github.com/sluicelog/sluice/egress/authz"
)

func ExamplePolicy() {
	pol, err := authz.NewPolicyOf(authz.PolicyFile{Grants: []authz.Grant{
		{Subjects: []string{"CN=billing-nozzle"}, SourceIDs: []string{"billing"}, ShardIDs: []string{"billing"}},
		{Tokens: []string{"admin-token"}, Firehose: true, ShardIDs: []string{"*"}},
	}})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	nozzle := authz.Identity{Subject: "CN=billing-nozzle"}
	fmt.Println(pol.Authorize(ctx, nozzle, authz.Request{SourceIDs: []string{"billing"}, ShardID: "billing"}))
	fmt.Println(pol.Authorize(ctx, nozzle, authz.Request{Firehose: true}))
	fmt.Println(pol.Authorize(ctx, authz.Identity{Token: "admin-token"}, authz.Request{Firehose: true, ShardID: "billing"}))
	fmt.Println(pol.Authorize(ctx, authz.Identity{}, authz.Request{SourceIDs: []string{"billing"}}))
	// Output:
	// <nil>
	// authz: permission denied: certificate "CN=billing-nozzle" may not read every source ID (no firehose grant)
	// <nil>
	// authz: unauthenticated: no client certificate or bearer token
}
