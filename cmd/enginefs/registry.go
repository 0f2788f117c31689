package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/enginefs/enginefs/imagestore"
	"github.com/enginefs/enginefs/imagestore/registry"
)

// registryConfig is what the registry flags say: how the image store
// reaches registries, and where it serves itself as one.
type registryConfig struct {
	addr, cert, key string
	ca              string // clients must present a certificate it signed
	regs            imagestore.Registries
}

// check fills the defaults and refuses a served registry off loopback
// without mutual TLS: the store holds images pulled with the daemon's
// credentials, and anyone who reaches the registry can read them all.
func (c *registryConfig) check(stateDir string) error {
	if c.regs.CertsDir == "" {
		c.regs.CertsDir = filepath.Join(stateDir, "certs.d")
	}
	if c.regs.AuthFile == "" {
		c.regs.AuthFile = filepath.Join(stateDir, "auth", "config.json")
	}
	if (c.cert == "") != (c.key == "") || (c.ca != "" && c.cert == "") {
		return errors.New("--registry-tls-cert and --registry-tls-key go together, and --registry-tls-ca needs them")
	}
	if c.addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(c.addr)
	if err != nil {
		return fmt.Errorf("--registry-addr %q: want HOST:PORT: %w", c.addr, err)
	}
	if ip := net.ParseIP(host); c.ca == "" && (ip == nil || !ip.IsLoopback()) && host != "localhost" {
		return fmt.Errorf("--registry-addr %q: off loopback the registry is served with mutual TLS only (give --registry-tls-cert, --registry-tls-key and --registry-tls-ca)", c.addr)
	}
	return nil
}

// serveRegistry serves the store as a registry on c.addr; the function
// returned stops it.
func serveRegistry(c registryConfig, store *imagestore.Store) (func(), error) {
	l, err := net.Listen("tcp", c.addr)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	srv := &http.Server{Handler: registry.New(store), ReadHeaderTimeout: 30 * time.Second}
	if c.ca != "" {
		pem, err := os.ReadFile(c.ca)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("--registry-tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			l.Close()
			return nil, fmt.Errorf("--registry-tls-ca %s: no PEM certificate in it", c.ca)
		}
		srv.TLSConfig = &tls.Config{ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	}
	go func() {
		var err error
		if c.cert != "" {
			err = srv.ServeTLS(l, c.cert, c.key)
		} else {
			err = srv.Serve(l)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("registry %s: %v", c.addr, err)
		}
	}()
	log.Printf("serving the image store as a registry on %s", l.Addr())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
