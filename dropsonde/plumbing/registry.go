package plumbing

import "google.golang.org/protobuf/reflect/protoregistry"

// The generated code registers the plumbing descriptors here rather than in
// protobuf's global registries, so that this package links beside Loggregator's plumbing package
// (which registers the same names) without a registration conflict.
var (
	protoFiles = new(protoregistry.Files)
	protoTypes = new(protoregistry.Types)
)

// Files returns the registry holding the plumbing.proto file descriptor. It is
// not protoregistry.GlobalFiles.
func Files() *protoregistry.Files { return protoFiles }

// Types returns the registry holding the plumbing message types.
func Types() *protoregistry.Types { return protoTypes }
