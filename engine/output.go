package engine

import (
	"github.com/enginefs/enginefs/logs"
)

// OpenOutput opens the output of the container ref (execID "") or of one
// of its execs, from the first record: what attach, logs and the tree's
// stdout and stderr files read. The reader follows the output as it is
// written (logs.Reader.Next with follow) and ends at the end of the run.
func (e *Engine) OpenOutput(ref, execID string) (*logs.Reader, error) {
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	dir := e.containerDir(c.id)
	if execID != "" {
		if _, _, err := e.GetExec(ref, execID); err != nil {
			return nil, err
		}
		dir = e.execDir(c.id, execID)
	}
	return logs.Open(dir)
}
