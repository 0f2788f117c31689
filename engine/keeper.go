package engine

import (
	"context"
	"syscall"

	"github.com/enginefs/enginefs/runtime"
	"github.com/enginefs/enginefs/runtime/keeper"
)

// Keeper runs the containers' processes outside the daemon, so they outlive
// it: runtime/keeper.Client. The engine never starts a process itself.
type Keeper interface {
	Start(ctx context.Context, r keeper.StartRequest) (keeper.Proc, error)
	Exec(ctx context.Context, r keeper.ExecRequest) (keeper.Proc, error)
	Signal(ctx context.Context, id, execID string, sig syscall.Signal) error
	WriteStdin(ctx context.Context, id, execID string, p []byte) error
	CloseStdin(ctx context.Context, id, execID string) error
	Resize(ctx context.Context, id, execID string, rows, cols uint16) error
	Pause(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
	Delete(ctx context.Context, id string) error
	Wait(ctx context.Context, id, execID string) (runtime.ExitStatus, error)
	List(ctx context.Context) ([]keeper.State, error)
	Forget(ctx context.Context, id, execID string) error
}

var _ Keeper = (*keeper.Client)(nil)
