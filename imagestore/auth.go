package imagestore

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/enginefs/enginefs/errdefs"
)

// authMu serialises the read-modify-write of the credentials file.
var authMu sync.Mutex

// authKey is the key docker keeps a registry's credentials under in
// config.json: Docker Hub's is its v1 URL, the others their host.
func authKey(host string) string {
	if host == name.DefaultRegistry || host == "docker.io" {
		return authn.DefaultAuthKey
	}
	return host
}

// loadAuth reads the credentials file (a missing one is empty).
func (s *Store) loadAuth() (*configfile.ConfigFile, error) {
	cf := configfile.New(s.regs.cfg.AuthFile)
	f, err := os.Open(s.regs.cfg.AuthFile)
	if errors.Is(err, os.ErrNotExist) {
		return cf, nil
	}
	if err != nil {
		return nil, classify(err, "credentials: %w")
	}
	defer f.Close()
	if err := cf.LoadFromReader(f); err != nil {
		return nil, errdefs.Invalid("credentials file %s: %w", s.regs.cfg.AuthFile, err)
	}
	return cf, nil
}

// keychain finds credentials in the credentials file, read at each use so
// a login takes effect at once.
func (s *Store) keychain() authn.Keychain { return fileKeychain{s} }

type fileKeychain struct{ s *Store }

func (k fileKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if k.s.regs.cfg.AuthFile == "" {
		return authn.Anonymous, nil
	}
	authMu.Lock()
	cf, err := k.s.loadAuth()
	authMu.Unlock()
	if err != nil {
		return nil, err
	}
	key := authKey(r.RegistryStr())
	ac, err := cf.GetCredentialsStore(key).Get(key)
	if err != nil {
		return nil, errdefs.Unavailable("credentials for %s: %w", r.RegistryStr(), err)
	}
	if ac == (types.AuthConfig{ServerAddress: ac.ServerAddress}) {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{
		Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
		IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken,
	}), nil
}

// Login checks user and password against the registry server ("host:port",
// "" for Docker Hub) and, if it accepts them, saves them in the
// credentials file (WithRegistries' AuthFile) as docker login does.
// Credentials the registry refuses are errdefs.ErrPermission and are not
// saved; a store without a credentials file fails with
// errdefs.ErrUnavailable.
func (s *Store) Login(ctx context.Context, server, user, password string) error {
	if s.regs.cfg.AuthFile == "" {
		return errdefs.Unavailable("login: the daemon keeps no credentials (no credentials file configured)")
	}
	if err := s.CheckLogin(ctx, server, user, password); err != nil {
		return err
	}
	host, _ := registryHost(server)
	authMu.Lock()
	defer authMu.Unlock()
	cf, err := s.loadAuth()
	if err != nil {
		return err
	}
	key := authKey(host)
	if err := cf.GetCredentialsStore(key).Store(types.AuthConfig{Username: user, Password: password, ServerAddress: key}); err != nil {
		return classify(err, "login: saving credentials: %w")
	}
	if err := cf.Save(); err != nil {
		return classify(err, "login: saving credentials: %w")
	}
	return nil
}

// CheckLogin checks user and password against the registry server as
// Login does, and keeps nothing: what dockerd does for POST /auth, the
// client keeping the credentials itself. Refused credentials are
// errdefs.ErrPermission.
func (s *Store) CheckLogin(ctx context.Context, server, user, password string) error {
	host, err := registryHost(server)
	if err != nil {
		return err
	}
	if user == "" || password == "" {
		return errdefs.Invalid("login: a user name and a password are needed")
	}
	reg, err := name.NewRegistry(host, s.regs.nameOptions(host)...)
	if err != nil {
		return errdefs.Invalid("login: bad registry %q: %w", server, err)
	}
	t, err := s.regs.transport(host)
	if err != nil {
		return err
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
	rt, err := transport.NewWithContext(ctx, reg, auth, t, []string{reg.Scope(transport.PullScope)})
	if err != nil {
		return registryError(err, "login to %s", host)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/v2/", nil)
	if err != nil {
		return errdefs.Invalid("login: %w", err)
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return registryError(err, "login to %s", host)
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return registryError(err, "login to %s", host)
	}
	return nil
}

// Logout removes the credentials of server from the credentials file. A
// server with none is errdefs.ErrNotFound.
func (s *Store) Logout(ctx context.Context, server string) error {
	host, err := registryHost(server)
	if err != nil {
		return err
	}
	if s.regs.cfg.AuthFile == "" {
		return errdefs.Unavailable("logout: the daemon keeps no credentials (no credentials file configured)")
	}
	authMu.Lock()
	defer authMu.Unlock()
	cf, err := s.loadAuth()
	if err != nil {
		return err
	}
	key := authKey(host)
	if _, ok := cf.AuthConfigs[key]; !ok {
		return errdefs.NotFound("not logged in to %s", host)
	}
	if err := cf.GetCredentialsStore(key).Erase(key); err != nil {
		return classify(err, "logout: %w")
	}
	if err := cf.Save(); err != nil {
		return classify(err, "logout: %w")
	}
	return nil
}

// registryHost checks a registry server name ("host:port", "host", or an
// URL as docker login accepts) and returns its host; "" is Docker Hub.
func registryHost(server string) (string, error) {
	s := strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	s = strings.TrimSuffix(strings.TrimSuffix(s, "/"), "/v2")
	switch s {
	case "", "docker.io", "index.docker.io", "registry-1.docker.io":
		return name.DefaultRegistry, nil
	}
	if _, err := name.NewRegistry(s); err != nil || strings.ContainsAny(s, "/ ") {
		return "", errdefs.Invalid("invalid registry %q", server)
	}
	return s, nil
}
