package main

import (
	"crypto/tls"
	"fmt"
)

// serverTLS loads the certificate Roster serves when it terminates TLS
// itself, or returns nil for plain HTTP. TLS 1.2 is the floor: every IdP
// and browser Roster serves speaks it, and older versions have known
// breaks. Go's default cipher suites for 1.2 are all forward-secret AEADs.
func serverTLS(c ServerTLSConfig) (*tls.Config, error) {
	if !c.Enabled() {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("server.tls: cannot load %s and %s: %v", c.CertFile, c.KeyFile, pathErr(err))
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}
