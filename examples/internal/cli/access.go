package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sluicelog/sluice/egress/authz"
)

// Access holds the flags that say who may read a program's egress:
// -authz-policy (a JSON grant file, reloaded on SIGHUP),
// -authz-introspect (an RFC 7662 endpoint such as UAA's /introspect, with
// -authz-client-id, -authz-client-secret-file, -authz-firehose-scopes) and
// -authz-open.
type Access struct {
	Policy       string
	Introspect   string
	ClientID     string
	SecretFile   string
	Scopes       string
	Open         bool
	IntrospectCA TLSFiles
}

// Flags registers the access flags.
func (a *Access) Flags(fs *flag.FlagSet) {
	fs.StringVar(&a.Policy, "authz-policy", "", `JSON policy of who may read what, reloaded on SIGHUP: {"grants": [{"subjects": ["CN=nozzle"], "names": [SANs], "tokens": [bearer tokens], "firehose": false, "source_ids": [...], "shard_ids": [... or "*"]}]}`)
	fs.StringVar(&a.Introspect, "authz-introspect", "", "OAuth2 token introspection endpoint (RFC 7662, e.g. UAA's https://uaa/introspect) that checks bearer tokens")
	fs.StringVar(&a.ClientID, "authz-client-id", "", "client ID the introspection endpoint is called with (basic auth)")
	fs.StringVar(&a.SecretFile, "authz-client-secret-file", "", "file holding the secret of -authz-client-id")
	fs.StringVar(&a.Scopes, "authz-firehose-scopes", strings.Join(authz.DefaultFirehoseScopes, ","), "comma-separated token scopes that grant the whole firehose")
	fs.BoolVar(&a.Open, "authz-open", false, "let everyone read everything, also on addresses beyond loopback (without a policy, only loopback listeners start)")
	a.IntrospectCA.ClientFlags(fs, "authz-introspect-", "the introspection endpoint")
}

// Authorizer builds the authorizer the flags describe for a program
// listening on addrs. Without -authz-policy or -authz-introspect it is
// authz.Open, refused (an error) when some address is beyond loopback and
// -authz-open is not set. With a policy file, SIGHUP reloads it until stop
// is called; reloads are logged. With both, the policy decides, and a
// bearer token it does not know goes to the introspection endpoint.
func (a *Access) Authorizer(logger *slog.Logger, addrs ...string) (_ authz.Authorizer, stop func(), err error) {
	stop = func() {}
	var chain []authz.Authorizer
	if a.Policy != "" {
		pol, err := authz.NewPolicy(a.Policy)
		if err != nil {
			return nil, stop, err
		}
		chain = append(chain, pol)
		stop = reloadOnHUP(pol, a.Policy, logger)
	}
	if a.Introspect != "" {
		opts := []authz.IntrospectorOption{authz.WithFirehoseScopes(strings.Split(a.Scopes, ",")...)}
		if a.ClientID != "" {
			secret, err := os.ReadFile(a.SecretFile)
			if err != nil {
				stop()
				return nil, func() {}, fmt.Errorf("-authz-client-secret-file: %w", err)
			}
			opts = append(opts, authz.WithClientCredentials(a.ClientID, strings.TrimSpace(string(secret))))
		}
		if tc, err := a.IntrospectCA.ClientConfig(); err != nil || tc != nil {
			if err != nil {
				stop()
				return nil, func() {}, err
			}
			opts = append(opts, authz.WithHTTPClient(httpClientTLS(tc)))
		}
		in, err := authz.NewIntrospector(a.Introspect, opts...)
		if err != nil {
			stop()
			return nil, func() {}, err
		}
		chain = append(chain, in)
	}
	switch len(chain) {
	case 1:
		return chain[0], stop, nil
	case 2:
		return policyThenIntrospect(chain[0], chain[1]), stop, nil
	}
	if !a.Open {
		for _, addr := range addrs {
			if addr != "" && !authz.Loopback(addr) {
				return nil, stop, fmt.Errorf("egress on %s is beyond loopback and no -authz-policy or -authz-introspect says who may read it; set -authz-open to let everyone read everything", addr)
			}
		}
	}
	return authz.Open(), stop, nil
}

// policyThenIntrospect asks pol, and in for bearer tokens pol does not know.
func policyThenIntrospect(pol, in authz.Authorizer) authz.Authorizer {
	return authz.AuthorizerFunc(func(ctx context.Context, id authz.Identity, req authz.Request) error {
		err := pol.Authorize(ctx, id, req)
		if errors.Is(err, authz.ErrUnauthenticated) && id.Token != "" {
			return in.Authorize(ctx, id, req)
		}
		return err
	})
}

func reloadOnHUP(pol *authz.Policy, path string, logger *slog.Logger) func() {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case <-hup:
				if err := pol.Reload(); err != nil {
					logger.Error("authz policy not reloaded; the previous one stays", "file", path, "err", err)
				} else {
					logger.Info("authz policy reloaded", "file", path)
				}
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
		<-finished
	}
}

func httpClientTLS(tc *tls.Config) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
}
