package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluicelog/sluice/examples/internal/cli"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := flag.NewFlagSet("devcerts", flag.ContinueOnError)
	cli.Usage(fs, "devcerts: makes a development CA and a server and a client certificate signed by it, as PEM\n"+
		"files for the example programs' TLS flags: ca.pem, server.pem, server-key.pem, client.pem and\n"+
		"client-key.pem in -dir. The server certificate is valid for localhost, 127.0.0.1 and ::1 (and\n"+
		"-hosts). It prints the files it wrote, one a line. For development only: the CA key is not kept.",
		"devcerts -dir ./certs -hosts router.local,10.0.0.5 -valid 720h")
	var (
		dir   = fs.String("dir", "certs", "directory to write the files to (created if missing)")
		hosts = fs.String("hosts", "", "comma-separated extra DNS names and IP addresses for the server certificate")
		valid = fs.Duration("valid", 30*24*time.Hour, "how long the certificates are valid")
		force = fs.Bool("force", false, "overwrite files that exist")
	)
	if code, ok := cli.Parse(fs, args); !ok {
		return code
	}
	if *valid <= 0 {
		fmt.Fprintln(os.Stderr, "devcerts: -valid must be positive")
		return 2
	}
	files, err := makeCerts(strings.Split(*hosts, ","), *valid)
	if err != nil {
		return cli.Fatal("devcerts", err)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return cli.Fatal("devcerts", err)
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if !*force {
		flags |= os.O_EXCL
	}
	for _, f := range files {
		path := filepath.Join(*dir, f.name)
		out, err := os.OpenFile(path, flags, f.mode)
		if err != nil {
			if errors.Is(err, os.ErrExist) {
				err = fmt.Errorf("%w (-force overwrites)", err)
			}
			return cli.Fatal("devcerts", err)
		}
		_, err = out.Write(f.pem)
		if err = errors.Join(err, out.Close()); err != nil {
			return cli.Fatal("devcerts", err)
		}
		fmt.Println(path)
	}
	return 0
}

// file is one PEM file to write.
type file struct {
	name string
	mode os.FileMode
	pem  []byte
}

// makeCerts makes the CA, the server certificate (for loopback and hosts)
// and the client certificate, and returns the files to write.
func makeCerts(hosts []string, valid time.Duration) ([]file, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ca := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "sluice development CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(valid),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := sign(ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		return nil, err
	}

	server := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "sluice server"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		switch h = strings.TrimSpace(h); {
		case h == "":
		case net.ParseIP(h) != nil:
			server.IPAddresses = append(server.IPAddresses, net.ParseIP(h))
		default:
			server.DNSNames = append(server.DNSNames, h)
		}
	}
	client := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "sluice client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}

	files := []file{{"ca.pem", 0o644, pemBlock("CERTIFICATE", caDER)}}
	for _, leaf := range []struct {
		name string
		tmpl *x509.Certificate
	}{{"server", server}, {"client", client}} {
		leaf.tmpl.NotBefore, leaf.tmpl.NotAfter = now.Add(-time.Hour), now.Add(valid)
		leaf.tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := sign(leaf.tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return nil, err
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		files = append(files,
			file{leaf.name + ".pem", 0o644, pemBlock("CERTIFICATE", der)},
			file{leaf.name + "-key.pem", 0o600, pemBlock("PRIVATE KEY", keyDER)})
	}
	return files, nil
}

// sign gives tmpl a random serial number and signs it with the CA's key.
func sign(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, caKey *ecdsa.PrivateKey) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	return x509.CreateCertificate(rand.Reader, tmpl, parent, pub, caKey)
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
