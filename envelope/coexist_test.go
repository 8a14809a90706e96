package envelope_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/sluicelog/sluice/envelope"
)

// What the global registries held once package envelope was initialized,
// before any test registered anything there.
var (
	globalFileErr = func() error {
		_, err := protoregistry.GlobalFiles.FindDescriptorByName("loggregator.v2.Envelope")
		return err
	}()
	globalTypeErr = func() error {
		_, err := protoregistry.GlobalTypes.FindMessageByName("loggregator.v2.Envelope")
		return err
	}()
)

// Loggregator's Go client registers loggregator.v2.* in protobuf's global
// registry. Register a copy of the same API there, as it would, and check
// that nothing of sluice's is in the way: no conflict, no panic.
func TestCoexistsWithGlobalLoggregatorRegistration(t *testing.T) {
	require.ErrorIs(t, globalFileErr, protoregistry.NotFound, "sluice must not register loggregator.v2 globally")
	require.ErrorIs(t, globalTypeErr, protoregistry.NotFound)

	for _, fd := range []protoreflect.FileDescriptor{
		envelope.File_envelope_proto, envelope.File_ingress_proto, envelope.File_egress_proto,
	} {
		if _, err := protoregistry.GlobalFiles.FindFileByPath(fd.Path()); err == nil {
			continue // registered by an earlier run of this test (-count > 1)
		}
		fdp := protodesc.ToFileDescriptorProto(fd)
		other, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
		require.NoError(t, err)
		require.NoError(t, protoregistry.GlobalFiles.RegisterFile(other), "registering %s globally", fd.Path())
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName("loggregator.v2.Ingress")
	require.NoError(t, err)
	assert.Equal(t, protoreflect.FullName("loggregator.v2.Ingress"), d.FullName())

	// sluice's own registry still answers for its types.
	mt, err := envelope.Types().FindMessageByName("loggregator.v2.Envelope")
	require.NoError(t, err)
	assert.IsType(t, &envelope.Envelope{}, mt.New().Interface())
}
