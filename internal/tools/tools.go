//go:build tools

// Package tools pins dependencies that sluice's packages are being built on,
// so that `go mod tidy` keeps them while the code that imports them lands.
package tools

import (
	_ "code.cloudfoundry.org/go-diodes"
	_ "github.com/miekg/dns"
	_ "go.etcd.io/etcd/client/v3"
	_ "go.etcd.io/etcd/server/v3/embed"
	_ "go.uber.org/goleak"
	_ "google.golang.org/grpc"
	_ "google.golang.org/protobuf/proto"
)
