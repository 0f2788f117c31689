package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/enginefs/enginefs/fs/ninep"
)

// dockerAddr normalises docker's address spellings (unix:///run/x.sock,
// tcp://host:2376) to the daemon's (unix:/run/x.sock, tcp:host:2376).
func dockerAddr(addr string) string {
	for _, scheme := range []string{"unix:", "tcp:"} {
		if rest, ok := strings.CutPrefix(addr, scheme+"//"); ok {
			return scheme + rest
		}
	}
	return addr
}

// tlsConfig builds the mutual TLS of --tls-cert, --tls-key and --tls-ca:
// the daemon's certificate, and client certificates required and checked
// against the CA, as dockerd's --tlsverify. No flags: nil.
func tlsConfig(cert, key, ca string) (*tls.Config, error) {
	if cert == "" && key == "" && ca == "" {
		return nil, nil
	}
	if cert == "" || key == "" || ca == "" {
		return nil, fmt.Errorf("--tls-cert, --tls-key and --tls-ca go together (mutual TLS)")
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		return nil, fmt.Errorf("--tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", ca)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// listenDocker opens the listener of the Docker API: a unix socket or
// plain TCP on loopback as --9p does, or, with mutual TLS, TCP on any
// address.
func listenDocker(ctx context.Context, addr string, tc *tls.Config) (net.Listener, error) {
	addr = dockerAddr(addr)
	if hostPort, ok := strings.CutPrefix(addr, "tcp:"); ok && tc != nil {
		var lc net.ListenConfig
		l, err := lc.Listen(ctx, "tcp", hostPort)
		if err != nil {
			return nil, fmt.Errorf("docker API: listen on %s: %w", addr, err)
		}
		return tls.NewListener(l, tc), nil
	}
	l, err := ninep.Listen(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("docker API on %s (plain TCP is for loopback only; use --tls-cert, --tls-key and --tls-ca for others): %w", addr, err)
	}
	return l, nil
}
