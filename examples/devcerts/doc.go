// Command devcerts makes a development CA and a server and a client
// certificate signed by it, as PEM files for the example programs' TLS
// flags. See README.md.
package main
