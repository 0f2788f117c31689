package dockerapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/registry"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// Pulls and pushes are jobs of the tree (images/pulls, images/pushes): the
// bridge opens the clone file, reads the job's number, opens the job's
// progress file, writes the command on the clone file and passes the
// progress lines (docker's JSON messages already) on as the response body.

// createImage is POST /images/create: a pull of fromImage (with tag, a
// tag or a digest) for platform, with the credentials of X-Registry-Auth.
// An import (fromSrc) is not implemented.
func (s *Server) createImage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Get("fromSrc") != "" {
		return s.importImage(w, r)
	}
	ref := q.Get("fromImage")
	if ref == "" {
		return errdefs.Invalid("fromImage is required: the image to pull")
	}
	if tag := q.Get("tag"); tag != "" {
		ref = withTag(ref, tag)
	}
	pull := verbs.ImagePull{Ref: ref, Platform: q.Get("platform"), Auth: r.Header.Get(registry.AuthHeader)}
	w.Header().Set("Content-Type", "application/json")
	return s.transfer(r.Context(), &progressWriter{w: w}, "images/pulls", pull)
}

// withTag adds a tag or a digest to a repository that has neither.
func withTag(repo, tag string) string {
	if strings.Contains(repo, "@") || strings.Contains(repo[strings.LastIndex(repo, "/")+1:], ":") {
		return repo
	}
	if strings.HasPrefix(tag, "sha256:") {
		return repo + "@" + tag
	}
	return repo + ":" + tag
}

// pushImage is POST /images/{name}/push?tag=: a push of name:tag or,
// without a tag, of every tag of the repository, one after the other in
// one stream, as docker does.
func (s *Server) pushImage(w http.ResponseWriter, r *http.Request, name string) error {
	ctx := r.Context()
	refs := []string{name}
	if tag := r.URL.Query().Get("tag"); tag != "" {
		refs = []string{withTag(name, tag)}
	} else if !strings.Contains(name[strings.LastIndex(name, "/")+1:], ":") {
		list, err := s.imageList(ctx)
		if err != nil {
			return err
		}
		refs = nil
		for _, img := range list {
			for _, t := range img.RepoTags {
				if familiar(name+":x") == familiar(t[:strings.LastIndex(t, ":")]+":x") {
					refs = append(refs, t)
				}
			}
		}
		if len(refs) == 0 {
			return errdefs.NotFound("An image does not exist locally with the tag: %s", name)
		}
		slices.Sort(refs)
	}
	w.Header().Set("Content-Type", "application/json")
	pw := &progressWriter{w: w}
	for _, ref := range refs {
		push := verbs.ImagePush{Ref: ref, Auth: r.Header.Get(registry.AuthHeader)}
		if err := s.transfer(ctx, pw, "images/pushes", push); err != nil {
			return err
		}
	}
	return nil
}

// progressWriter is a response made of progress lines. Its headers go
// with the first line passed on.
type progressWriter struct {
	w       http.ResponseWriter
	started bool
}

func (p *progressWriter) write(lines [][]byte) error {
	if !p.started {
		p.started = true
		p.w.WriteHeader(http.StatusOK)
	}
	for _, l := range lines {
		if _, err := p.w.Write(append(l, '\n')); err != nil {
			return err
		}
	}
	flush(p.w)
	return nil
}

// transfer runs one job of dir (images/pulls or images/pushes) and streams
// its progress to pw. Lines are held back while only the job's first
// status has come: a job that fails then (no such image, a refused login)
// answers docker's error response, with the status of its class, as
// dockerd answers an error that comes before any progress.
func (s *Server) transfer(ctx context.Context, pw *progressWriter, dir string, v verbs.Verb) error {
	clone, err := s.tree.Open(ctx, dir+"/clone", os.O_RDWR)
	if err != nil {
		return err
	}
	defer clone.Close()
	num, err := fs.ReadHandle(ctx, clone)
	if err != nil {
		return err
	}
	n := strings.TrimSpace(string(num))
	prog, err := s.tree.Open(ctx, dir+"/"+n+"/progress", os.O_RDONLY)
	if err != nil {
		return err
	}
	defer prog.Close()
	result := make(chan error, 1)
	go func() {
		_, err := fs.WriteCommand(ctx, clone, verbs.Line(v))
		result <- err
	}()
	// abort stops the job of a client that left, as dockerd does.
	abort := func() {
		_, _ = s.command(context.WithoutCancel(ctx), dir+"/"+n+"/ctl", verbs.Line(verbs.TransferCancel{}))
		<-result
	}
	var held [][]byte
	var pending []byte
	buf := make([]byte, 32*1024)
	for {
		nr, rerr := prog.ReadAt(ctx, buf, 0)
		pending = append(pending, buf[:nr]...)
		var lines [][]byte
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			lines = append(lines, bytes.Clone(pending[:i]))
			pending = pending[i+1:]
		}
		if !pw.started {
			held = append(held, lines...)
			lines = nil
			if len(held) > 1 && !errorLine(held[len(held)-1]) {
				lines, held = held, nil
			}
		}
		if len(lines) > 0 {
			if err := pw.write(lines); err != nil {
				abort()
				return err
			}
		}
		if rerr == io.EOF || (rerr == nil && nr == 0) {
			break
		}
		if rerr != nil {
			abort()
			return rerr
		}
	}
	jobErr := <-result
	if !pw.started && jobErr != nil {
		return jobErr
	}
	if len(held) > 0 {
		return pw.write(held)
	}
	if !pw.started && jobErr == nil {
		return pw.write(nil)
	}
	return nil
}

// errorLine reports whether a progress line is an error message.
func errorLine(line []byte) bool {
	var m struct {
		Error string `json:"error"`
	}
	return json.Unmarshal(line, &m) == nil && m.Error != ""
}

// auth is POST /auth: the credentials are checked against the registry by
// images/ctl's login with save=false (the client keeps them, as docker's
// does). Refused credentials are 401.
func (s *Server) auth(w http.ResponseWriter, r *http.Request) error {
	var ac registry.AuthConfig
	if err := decodeBody(r, &ac, true); err != nil {
		return err
	}
	if ac.IdentityToken != "" || ac.RegistryToken != "" {
		return fmt.Errorf("%w: logging in with a token is not implemented: give a user name and a password", errNotImplemented)
	}
	login := verbs.ImageLogin{Server: ac.ServerAddress, User: ac.Username, Password: ac.Password, NoSave: true}
	if _, err := s.command(r.Context(), "images/ctl", verbs.Line(login)); err != nil {
		if errors.Is(err, errdefs.ErrPermission) {
			return fmt.Errorf("%w: %w", errUnauthorized, err)
		}
		return err
	}
	return writeJSON(w, http.StatusOK, registry.AuthenticateOKBody{Status: "Login Succeeded"})
}
