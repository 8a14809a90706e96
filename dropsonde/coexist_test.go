package dropsonde_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/sluicelog/sluice/dropsonde/events"
	"github.com/sluicelog/sluice/dropsonde/plumbing"
)

// What the global registry held once events and plumbing were initialized.
var globalErrs = func() []error {
	var errs []error
	for _, name := range []protoreflect.FullName{"events.Envelope", "plumbing.DopplerIngestor"} {
		_, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
		errs = append(errs, err)
	}
	return errs
}()

// sonde-go and Loggregator's plumbing register events.* and plumbing.*
// globally. Register copies there, as they would: no conflict, and the
// package-local registries still answer with sluice's types.
func TestCoexistsWithGlobalRegistrations(t *testing.T) {
	for _, err := range globalErrs {
		require.ErrorIs(t, err, protoregistry.NotFound, "sluice must not register v1 descriptors globally")
	}
	for _, fd := range []protoreflect.FileDescriptor{events.File_events_proto, plumbing.File_plumbing_proto} {
		if _, err := protoregistry.GlobalFiles.FindFileByPath(fd.Path()); err == nil {
			continue // registered by an earlier run (-count > 1)
		}
		other, err := protodesc.NewFile(protodesc.ToFileDescriptorProto(fd), protoregistry.GlobalFiles)
		require.NoError(t, err)
		require.NoError(t, protoregistry.GlobalFiles.RegisterFile(other))
	}
	mt, err := events.Types().FindMessageByName("events.Envelope")
	require.NoError(t, err)
	assert.IsType(t, &events.Envelope{}, mt.New().Interface())
	mt, err = plumbing.Types().FindMessageByName("plumbing.EnvelopeData")
	require.NoError(t, err)
	assert.IsType(t, &plumbing.EnvelopeData{}, mt.New().Interface())
}
