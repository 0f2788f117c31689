//go:build linux

package tests

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/internal/testenv"
)

// writeCerts makes a CA, a server certificate for 127.0.0.1 and a client
// certificate, all signed by the CA, as PEM files in dir.
func writeCerts(t *testing.T, dir string) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	write("ca.pem", "CERTIFICATE", caDER)
	for i, c := range []struct {
		name  string
		usage x509.ExtKeyUsage
	}{{"server", x509.ExtKeyUsageServerAuth}, {"client", x509.ExtKeyUsageClientAuth}} {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: c.name},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{c.usage},
			KeyUsage: x509.KeyUsageDigitalSignature, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		write(c.name+"-cert.pem", "CERTIFICATE", der)
		write(c.name+"-key.pem", "EC PRIVATE KEY", kder)
	}
}

// TestDockerTLS serves the API on TCP with mutual TLS, as dockerd's
// --tlsverify: the CLI with a client certificate gets through, one without
// does not; plain TCP off loopback is refused.
func TestDockerTLS(t *testing.T) {
	needDaemon(t)
	testenv.NeedBinary(t, dockerCLI, "docker CLI 28 (this kind of machine has it at "+dockerCLI+")")
	certs := t.TempDir()
	writeCerts(t, certs)
	addr := "127.0.0.1:" + strconv.Itoa(freeLoopbackPort(t))
	d := startDaemon(t, "--docker", "tcp://"+addr, "--tls-cert", filepath.Join(certs, "server-cert.pem"),
		"--tls-key", filepath.Join(certs, "server-key.pem"), "--tls-ca", filepath.Join(certs, "ca.pem"))
	docker := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, dockerCLI, append([]string{"-H", "tcp://" + addr}, args...)...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(d.run, "docker-config"))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	tlsFlags := []string{"--tlsverify", "--tlscacert", filepath.Join(certs, "ca.pem"),
		"--tlscert", filepath.Join(certs, "client-cert.pem"), "--tlskey", filepath.Join(certs, "client-key.pem")}
	if out, err := docker(append(tlsFlags, "run", "--rm", "busybox", "echo", "over tls")...); err != nil || out != "over tls\n" {
		t.Errorf("docker with a client certificate: %v\n%s", err, out)
	}
	if out, err := docker("--tlsverify", "--tlscacert", filepath.Join(certs, "ca.pem"), "version"); err == nil || strings.Contains(out, "Server: enginefs") {
		t.Errorf("docker without a client certificate got through:\n%s", out)
	}
	if out, err := docker("version"); err == nil || strings.Contains(out, "Server: enginefs") {
		t.Errorf("docker without TLS got through:\n%s", out)
	}

	// Plain TCP off loopback is refused at start-up.
	base := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.enginefs, "--state", filepath.Join(base, "state"), "--run", filepath.Join(base, "run"),
		"--mount", "", "--9p", "unix:"+filepath.Join(base, "9p.sock"), "--keeper-idle", "200ms",
		"--docker", "tcp:0.0.0.0:"+strconv.Itoa(freeLoopbackPort(t)))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "loopback") {
		t.Errorf("enginefs with plain TCP off loopback: %v\n%s", err, out)
	}
	// The keeper it may have started goes once idle.
	if data, err := os.ReadFile(filepath.Join(base, "run", "keeper.pid")); err == nil {
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		waitFor(t, func() bool { return pid <= 0 || syscall.Kill(pid, 0) != nil })
	}
}
