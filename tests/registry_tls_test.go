//go:build linux

package tests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestServedRegistryMutualTLS serves one engine's store as a registry with
// mutual TLS: an engine with a client certificate (docker's certs.d layout)
// pulls from it; one that trusts the server but has no client certificate
// is refused.
func TestServedRegistryMutualTLS(t *testing.T) {
	certs := t.TempDir()
	writeCerts(t, certs)
	served := "127.0.0.1:" + strconv.Itoa(freeLoopbackPort(t))
	ca := filepath.Join(certs, "ca.pem")
	startDaemon(t, "--registry-addr", served, "--registry-tls-cert", filepath.Join(certs, "server-cert.pem"),
		"--registry-tls-key", filepath.Join(certs, "server-key.pem"), "--registry-tls-ca", ca)
	certsD := t.TempDir()
	host := filepath.Join(certsD, served)
	if err := os.MkdirAll(host, 0o700); err != nil {
		t.Fatal(err)
	}
	for src, dst := range map[string]string{"client-cert.pem": "client.cert", "client-key.pem": "client.key"} {
		b, err := os.ReadFile(filepath.Join(certs, src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(host, dst), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ref := served + "/busybox:latest"

	withCert := startDaemon(t, "--registry-ca", ca, "--registry-certs", certsD)
	withCert.mustDctl("pull", ref)
	if out := withCert.mustDctl("run", "--rm", ref, "cat", "/etc/enginefs-fixture"); !strings.Contains(out, "enginefs busybox fixture") {
		t.Errorf("the image pulled over mutual TLS runs: %q", out)
	}

	without := startDaemon(t, "--registry-ca", ca)
	out, errOut, code := without.dctl("pull", ref)
	if code == 0 {
		t.Fatalf("a pull without a client certificate got through:\n%s", out)
	}
	if !strings.Contains(errOut, "certificate") {
		t.Errorf("the refused pull does not say why: %q", errOut)
	}
}
