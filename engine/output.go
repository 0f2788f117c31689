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

// createLog makes the empty log (log and its index) of a container or an
// exec in dir before its run, so that a reader opened before the start
// holds the files the keeper then writes (the keeper's logs.Create opens
// them as they are): a run --rm that ends, and is removed with its
// directory, before the reader's first read is still read whole.
func createLog(dir string) error {
	w, err := logs.Create(dir)
	if err != nil {
		return err
	}
	return w.Close()
}
