package envelope

import "google.golang.org/protobuf/reflect/protoregistry"

// The generated code registers loggregator.v2 descriptors here rather than in
// protobuf's global registries; see the package documentation (Coexistence).
var (
	protoFiles = new(protoregistry.Files)
	protoTypes = new(protoregistry.Types)
)

// Files returns the registry holding sluice's loggregator.v2 file
// descriptors (envelope.proto, ingress.proto, egress.proto). Use it for
// reflection, protojson with Any, or to compare against another copy of the
// API. It is not protoregistry.GlobalFiles.
func Files() *protoregistry.Files { return protoFiles }

// Types returns the registry holding sluice's loggregator.v2 message and enum
// types.
func Types() *protoregistry.Types { return protoTypes }
