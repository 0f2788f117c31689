package dockerapi

import (
	"context"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// confined is the bridge's view of the tree: it opens only names whose
// every element is a name, never "", "." or "..". The bridge makes its
// paths from names a client gives (a container, a network, the key of an
// endpoint, a commit's container), and fs.Walk cleans a path before it
// walks it, so a name ".." or "a/../../containers/x" would otherwise lead
// the bridge's line to another object's ctl file.
type confined struct{ fs.Client }

func (c confined) Open(ctx context.Context, name string, flag int) (fs.Handle, error) {
	if err := checkPath(name); err != nil {
		return nil, err
	}
	return c.Client.Open(ctx, name, flag)
}

func (c confined) ReadDir(ctx context.Context, name string) ([]fs.DirEntry, error) {
	if err := checkPath(name); err != nil {
		return nil, err
	}
	return c.Client.ReadDir(ctx, name)
}

// checkPath refuses a path of the tree with an empty, "." or ".." element
// (a trailing slash aside).
func checkPath(name string) error {
	elems := strings.Split(strings.TrimSuffix(name, "/"), "/")
	for _, e := range elems {
		if e == "" || e == "." || e == ".." {
			return errdefs.Invalid("invalid name in %q: a name cannot be empty, \".\" or \"..\"", name)
		}
	}
	return nil
}

// checkQuery refuses a query that is not UTF-8 once decoded: its values
// become words of ctl lines, which are UTF-8 (JSON bodies are made so by
// encoding/json).
func checkQuery(r *http.Request) error {
	for k, vs := range r.URL.Query() {
		if !utf8.ValidString(k) {
			return errdefs.Invalid("the query parameter %q is not UTF-8", k)
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return errdefs.Invalid("the query parameter %s=%q is not UTF-8", k, v)
			}
		}
	}
	return nil
}
