package keeper

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"syscall"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
)

// ProtocolVersion is the version of the wire protocol. A client and a
// keeper speak only if their versions are equal; any change of a message's
// meaning increments it.
const ProtocolVersion = 1

// The file names in Options.RunDir.
const (
	SocketName  = "keeper.sock"
	PidFileName = "keeper.pid"
	LogFileName = "keeper.log"
)

// The methods. hello must be the first request of a connection; cancel is
// a notification (no response) abandoning the call it names.
const (
	mHello      = "hello"
	mCancel     = "cancel"
	mStart      = "start"
	mExec       = "exec"
	mSignal     = "signal"
	mWrite      = "write"
	mCloseStdin = "closeStdin"
	mResize     = "resize"
	mPause      = "pause"
	mResume     = "resume"
	mDelete     = "delete"
	mWait       = "wait"
	mList       = "list"
	mForget     = "forget"
)

// request is one call: a JSON object on the wire.
type request struct {
	ID     uint64          `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params,omitempty"`
}

// response answers the request with the same ID, with a result or an error.
type response struct {
	ID     uint64          `json:"id"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *wireError      `json:"error,omitempty"`
}

// wireError is an error as it crosses the socket: its text, its errdefs
// class, and whether it wraps os.ErrProcessDone (Signal of an exited
// process).
type wireError struct {
	Class       string `json:"class,omitempty"`
	Message     string `json:"message"`
	ProcessDone bool   `json:"processDone,omitempty"`
}

// classes names the errdefs classes on the wire.
var classes = map[string]error{
	"notfound":    errdefs.ErrNotFound,
	"exists":      errdefs.ErrAlreadyExists,
	"invalid":     errdefs.ErrInvalid,
	"busy":        errdefs.ErrBusy,
	"permission":  errdefs.ErrPermission,
	"unavailable": errdefs.ErrUnavailable,
}

// toWire encodes err, nil for nil.
func toWire(err error) *wireError {
	if err == nil {
		return nil
	}
	w := &wireError{Message: err.Error(), ProcessDone: errors.Is(err, os.ErrProcessDone)}
	if c := errdefs.Class(err); c != nil {
		for name, e := range classes {
			if e == c {
				w.Class = name
			}
		}
	}
	return w
}

// err decodes w into an error of the same class and text.
func (w *wireError) err() error {
	var cause error
	if w.ProcessDone {
		cause = os.ErrProcessDone
	}
	class, ok := classes[w.Class]
	switch {
	case ok && cause != nil:
		return errdefs.New(class, "%s: %w", w.Message, cause)
	case ok:
		return errdefs.New(class, "%s", w.Message)
	case cause != nil:
		return fmt.Errorf("%s: %w", w.Message, cause)
	}
	return errors.New(w.Message)
}

// helloParams opens a connection; helloResult answers it.
type helloParams struct {
	Protocol int    `json:"protocol"`
	Build    string `json:"build"`
}

type helloResult struct {
	Protocol int    `json:"protocol"`
	Build    string `json:"build"`
	Pid      int    `json:"pid"`
}

// cancelParams names the call a cancel abandons.
type cancelParams struct {
	ID uint64 `json:"id"`
}

// startParams is a StartRequest with its runtime resolved by the client:
// "builtin" or the absolute path of an OCI runtime binary.
type startParams struct {
	StartRequest
	RuntimeBinary string `json:"runtimeBinary"`
}

// procParams names a process: a container's init (Exec "") or an exec.
type procParams struct {
	ID   string `json:"id"`
	Exec string `json:"exec,omitempty"`
}

type signalParams struct {
	procParams
	Signal syscall.Signal `json:"signal"`
}

type writeParams struct {
	procParams
	Data []byte `json:"data"`
}

type resizeParams struct {
	procParams
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

// deleteParams lists the runtimes to try for a container the keeper does
// not know (it forgot, or it is a new keeper): every runtime the client
// knows, Delete of what is not there being no error.
type deleteParams struct {
	ID       string   `json:"id"`
	Runtimes []string `json:"runtimes"`
}

// waitResult is runtime.ExitStatus on the wire.
type waitResult = runtime.ExitStatus

// build names the running binary's build for the version check's messages.
func build() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown build"
	}
	s := bi.Main.Version
	for _, kv := range bi.Settings {
		if kv.Key == "vcs.revision" && len(kv.Value) >= 12 {
			s += " " + kv.Value[:12]
		}
		if kv.Key == "vcs.modified" && kv.Value == "true" {
			s += "+dirty"
		}
	}
	return s
}
