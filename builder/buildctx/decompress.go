package buildctx

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"io"
	"os/exec"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// compression is what a stream's first bytes say it is.
type compression int

const (
	uncompressed compression = iota
	compGzip
	compBzip2
	compXz
	compZstd
)

// detect reads the magic numbers go-archive's DetectCompression knows.
func detect(head []byte) compression {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b, 0x08}):
		return compGzip
	case bytes.HasPrefix(head, []byte("BZh")):
		return compBzip2
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return compXz
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return compZstd
	}
	return uncompressed
}

// decompress returns the decompressed stream of r and what it was. With
// allowXz false an xz stream is an ErrInvalid error; otherwise it is
// decompressed by the host's xz program, as docker does, and
// ErrUnavailable if there is none. The returned closer must be called.
func decompress(ctx context.Context, r io.Reader, allowXz bool) (io.Reader, func() error, compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(10)
	c := detect(head)
	nop := func() error { return nil }
	switch c {
	case compGzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, c, errdefs.Invalid("reading gzip stream: %w", err)
		}
		return zr, zr.Close, c, nil
	case compBzip2:
		return bzip2.NewReader(br), nop, c, nil
	case compZstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, c, errdefs.Invalid("reading zstd stream: %w", err)
		}
		return zr, func() error { zr.Close(); return nil }, c, nil
	case compXz:
		if !allowXz {
			return nil, nil, c, errdefs.Invalid("xz-compressed build contexts are not supported")
		}
		return xzReader(ctx, br)
	}
	return br, nop, c, nil
}

// xzReader decompresses r with "xz -d -c -q".
func xzReader(ctx context.Context, r io.Reader) (io.Reader, func() error, compression, error) {
	bin, err := exec.LookPath("xz")
	if err != nil {
		return nil, nil, compXz, errdefs.Unavailable("decompressing xz: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, bin, "-d", "-c", "-q")
	cmd.Stdin = r
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, nil, compXz, errdefs.Unavailable("decompressing xz: %w", err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, nil, compXz, errdefs.Unavailable("decompressing xz: %w", err)
	}
	closer := func() error {
		cancel()
		out.Close()
		cmd.Wait()
		return nil
	}
	return &xzOut{r: out, cmd: cmd}, closer, compXz, nil
}

// xzOut reads xz's output and turns a failed xz into an error at the end
// of its output (a truncated stream is not a clean EOF).
type xzOut struct {
	r    io.Reader
	cmd  *exec.Cmd
	done bool
}

func (x *xzOut) Read(p []byte) (int, error) {
	n, err := x.r.Read(p)
	if err == io.EOF && !x.done {
		x.done = true
		if werr := x.cmd.Wait(); werr != nil {
			return n, errdefs.Invalid("decompressing xz: %w", werr)
		}
	}
	return n, err
}
