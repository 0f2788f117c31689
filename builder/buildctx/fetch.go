package buildctx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
	"golang.org/x/sys/unix"
)

// UnnamedFile is the name Fetch saves a download under when neither the
// URL nor the answer gives one (docker's "__unnamed__"). The builder
// fails such an ADD whose dest ends in "/" with "cannot determine
// filename for source <url>", and otherwise writes the file to dest
// itself.
const UnnamedFile = "__unnamed__"

// MaxFetchBytes caps the size of an ADD download.
const MaxFetchBytes = 8 << 30

// Fetch downloads rawURL (http or https) for ADD as docker's
// downloadSource does, into the directory dir (made if missing; best a
// fresh one per download), and returns the file's path and its hash: the
// bare hex docker puts in ADD's history line (no "file:" prefix), the
// tarsum of the file's header and content as for a --from source. The
// file is named after the last element of the URL's path, or when the
// path is empty or ends in "/" after the Content-Disposition filename,
// or else UnnamedFile; it has mode 0600 and as mtime (and atime) the
// Last-Modified of the answer, or the Unix epoch without one. A nil client
// is http.DefaultClient.
//
// Errors are the ones docker wraps in "ADD failed: " (the builder adds
// that): an answer with status 400 or more is "failed to GET <url> with
// status 404 Not Found: <body>", ErrNotFound for 404, ErrInvalid for 400,
// ErrPermission for 401 and 403, ErrUnavailable otherwise; a name that
// does not resolve is ErrNotFound, other transport errors and a cancelled
// ctx ErrUnavailable; a body over MaxFetchBytes or a URL that is not http
// or https ErrInvalid.
func Fetch(ctx context.Context, client *http.Client, rawURL, dir string) (path, hash string, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", "", errdefs.Invalid("%w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", "", errdefs.Invalid("unsupported URL scheme %q in %s: only http and https can be downloaded", u.Scheme, rawURL)
	}
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", "", errdefs.Invalid("%w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && !dnsErr.IsTimeout {
			return "", "", errdefs.NotFound("%w", err)
		}
		return "", "", errdefs.Unavailable("%w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= http.StatusBadRequest {
		return "", "", statusError(rawURL, resp)
	}

	name := downloadName(u.Path, resp)
	if name == "" {
		name = UnnamedFile
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", classify(err, "%w")
	}
	path = filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", "", classify(err, "%w")
	}
	n, err := io.Copy(f, ctxReader(ctx, io.LimitReader(resp.Body, MaxFetchBytes+1)))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > MaxFetchBytes {
		err = errdefs.Invalid("download of %s exceeds %d bytes", rawURL, int64(MaxFetchBytes))
	}
	if err == nil {
		err = os.Chmod(path, 0o600) // whatever the umask did
	}
	if err == nil {
		mtime := unixEpoch
		if t, perr := http.ParseTime(resp.Header.Get("Last-Modified")); perr == nil {
			mtime = boundTime(t)
		}
		err = os.Chtimes(path, mtime, mtime)
	}
	if err != nil {
		os.Remove(path)
		return "", "", classify(err, "downloading %s: %w", rawURL)
	}

	dirfd, err := openDirPath(dir)
	if err != nil {
		return "", "", err
	}
	defer unix.Close(dirfd)
	hash, err = lazyHash(dirfd, name, map[string]string{})
	if err != nil {
		return "", "", err
	}
	return path, hash, nil
}

// downloadName is docker's getFilenameForDownload, refusing the names
// "." and ".." that would point at dir or its parent.
func downloadName(urlPath string, resp *http.Response) string {
	ok := func(s string) bool { return s != "" && s != "." && s != ".." && s != "/" }
	if urlPath != "" && !strings.HasSuffix(urlPath, "/") {
		if name := filepath.Base(filepath.FromSlash(urlPath)); ok(name) {
			return name
		}
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != "" {
		if _, params, err := mime.ParseMediaType(cd); err == nil {
			if fn := params["filename"]; fn != "" && !strings.HasSuffix(fn, "/") {
				if name := filepath.Base(filepath.FromSlash(fn)); ok(name) {
					return name
				}
			}
		}
	}
	return ""
}

// statusError is docker's GetWithStatusError message for a failed GET,
// classed by the status.
func statusError(rawURL string, resp *http.Response) error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg := "failed to GET " + rawURL + " with status " + resp.Status
	if err != nil {
		return errdefs.Unavailable("%s: error reading body", msg)
	}
	msg += ": " + string(bytes.TrimSpace(body))
	class := errdefs.ErrUnavailable
	switch resp.StatusCode {
	case http.StatusNotFound:
		class = errdefs.ErrNotFound
	case http.StatusBadRequest:
		class = errdefs.ErrInvalid
	case http.StatusUnauthorized, http.StatusForbidden:
		class = errdefs.ErrPermission
	}
	return errdefs.New(class, "%s", msg)
}
