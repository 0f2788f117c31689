package dockerapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/enginefs/enginefs/errdefs"
)

// Request bodies. A JSON body is read into memory to be decoded, so each
// endpoint that takes one, or takes none, caps it; a body over the cap is
// refused with 413 before more than the cap is read (up front when its
// Content-Length says so). The streams (an image archive, a build
// context, an import's tarball) are not capped: they are copied in chunks
// to files of the tree, which keep them on disk, never whole in memory.
const (
	// MaxJSONBody caps the JSON bodies of every endpoint but the create of
	// a container and the streams: 1 MiB. docker's clients send a few KiB
	// at most (a network's IPAM, a volume's options, an exec's command).
	MaxJSONBody int64 = 1 << 20
	// MaxCreateBody caps POST /containers/create: 4 MiB. Its config holds
	// a container's environment, command and labels, which compose and
	// generated configs make long; the kernel caps a process's arguments
	// and environment at a quarter of the stack limit, 2 MiB by default
	// (ARG_MAX), so 4 MiB holds the largest environment and command a
	// container could start with, JSON-quoted, and room for labels.
	MaxCreateBody int64 = 4 << 20
)

// bodyCap is an endpoint's cap on its request body: its size in bytes
// and the name it is known by in messages; a zero bodyCap is no cap (a
// stream).
type bodyCap struct {
	max  int64
	name string
}

var (
	jsonBody   = bodyCap{MaxJSONBody, "MaxJSONBody"}
	createBody = bodyCap{MaxCreateBody, "MaxCreateBody"}
	streamBody = bodyCap{}
)

// errTooLarge marks a request body over its endpoint's cap: docker's
// clients get 413 Request Entity Too Large.
var errTooLarge = errors.New("request body too large")

// tooLarge is the error of a body over c on the request r.
func (c bodyCap) tooLarge(r *http.Request) error {
	return fmt.Errorf("%w: the body of %s %s is larger than %d bytes (%s, cap dockerapi.%s)",
		errTooLarge, r.Method, r.URL.Path, c.max, sizeText(c.max), c.name)
}

// sizeText writes a power-of-two size as people read it (1 MiB).
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// limit caps r's body at c: a body whose Content-Length is over the cap
// is refused at once, without a byte of it read; any other is read
// through http.MaxBytesReader, which fails the read past the cap (and
// has the server close the connection rather than drain the rest).
func (c bodyCap) limit(w http.ResponseWriter, r *http.Request) error {
	if c.max <= 0 {
		return nil
	}
	if r.ContentLength > c.max {
		return c.tooLarge(r)
	}
	r.Body = &cappedBody{ReadCloser: http.MaxBytesReader(w, r.Body, c.max), c: c, r: r}
	return nil
}

// cappedBody turns the error of a read past the cap into the endpoint's
// tooLarge error, so that every reader of the body reports it alike.
type cappedBody struct {
	io.ReadCloser
	c bodyCap
	r *http.Request
}

func (b *cappedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = b.c.tooLarge(b.r)
	}
	return n, err
}

// refusal marks an error that refuses hostile or malformed input (a body
// too large, not JSON): the endpoint logs it once with the client.
type refusal struct {
	what string // what was refused: "request body"
	err  error
}

func (e *refusal) Error() string { return e.err.Error() }
func (e *refusal) Unwrap() error { return e.err }

// refuse marks err as a refusal of what.
func refuse(what string, err error) error { return &refusal{what: what, err: err} }

// decodeBody decodes a JSON request body into v, as dockerd's
// httputils.ReadJSON: one JSON value, nothing but spaces after it. An
// empty body is an error when required; a malformed one always is. The
// body is read through its endpoint's cap (Server.routes), so a body too
// large fails with errTooLarge having read no more than the cap.
func decodeBody(r *http.Request, v any, required bool) error {
	empty := func() error {
		if required {
			return errdefs.Invalid("the request body is empty: a JSON object was expected")
		}
		return nil
	}
	if r.Body == nil {
		return empty()
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return empty()
		}
		return bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if errors.Is(err, errTooLarge) {
			return bodyError(err)
		}
		return refuse("request body", errdefs.Invalid("invalid JSON: unexpected content after the JSON value"))
	}
	return nil
}

// readBody reads a small request body whole; its endpoint's cap bounds
// it.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	data, err := io.ReadAll(r.Body)
	if errors.Is(err, errTooLarge) {
		return nil, refuse("request body", err)
	}
	if err != nil {
		return nil, errdefs.Invalid("reading the request body: %w", err)
	}
	return data, nil
}

// bodyError classes an error of decoding a JSON request body, as a
// refusal: over the cap, 413; anything else, 400 "invalid JSON" as
// dockerd answers.
func bodyError(err error) error {
	switch {
	case errors.Is(err, errTooLarge):
		return refuse("request body", err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return refuse("request body", errdefs.Invalid("invalid JSON: the body ended in the middle of a value"))
	}
	return refuse("request body", errdefs.Invalid("invalid JSON: %w", err))
}
