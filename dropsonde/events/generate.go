package events

// The generated code is committed. To regenerate it byte for byte (only Go
// and the Go module proxy are needed; buf compiles the .proto file itself):
//
//	go generate ./dropsonde/events
//
//go:generate go run github.com/bufbuild/buf/cmd/buf@v1.61.0 generate
//go:generate go run ../../internal/cmd/protolocal -files protoFiles -types protoTypes events.pb.go
