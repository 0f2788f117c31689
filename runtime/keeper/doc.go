// Package keeper runs containers' processes outside the daemon, so that
// they outlive it: the keeper (cmd/enginefs-keeper) is one small process
// for all containers, the parent (a child subreaper) of every container
// init and exec'd process, holding their stdio pipes or terminal masters,
// copying their output into their logs (package logs) and remembering their
// exit statuses. The daemon can be killed or upgraded; when it connects
// again it finds its containers running, their logs complete, and the exit
// statuses of those that exited meanwhile.
//
// Entry points: [Connect] returns the daemon's [Client], starting a keeper
// if none runs; [Main] is the keeper program and [Serve] the server it
// runs.
//
// # Files
//
// In the run directory (Options.RunDir, --run): keeper.sock, the unix
// socket (mode 0600); keeper.pid, the keeper's pid, locked (flock) by the
// running keeper, which is how a second keeper knows to refuse to start;
// keeper.log, the keeper's own output (append only).
//
// # Protocol
//
// JSON messages, one object after another on the socket (encoding/json
// streams), multiplexed by id: the client sends {"id", "method", "params"}
// and the keeper answers {"id", "result"} or {"id", "error": {"class",
// "message", "processDone"}}, in any order. The keeper runs each call in a
// goroutine of its own (Wait in none: it is a callback on the process), so
// a blocking Wait holds up nothing. Errors keep their errdefs class and
// os.ErrProcessDone across the wire. A client that gives up a call (its ctx
// done) sends {"method": "cancel", "params": {"id"}}, which cancels the
// call in the keeper.
//
// The first request of a connection is hello, carrying ProtocolVersion and
// the client's build; a keeper of another version answers with an error of
// class errdefs.ErrUnavailable naming both builds and closes, and the
// client checks the keeper's version as well. A connection that closes
// (the daemon killed with -9 at any point) cancels its calls in progress
// and nothing else: processes, logs and statuses stay.
//
// # Runtimes
//
// A StartRequest names its runtime; the client resolves the name through
// Options.Runtimes and sends "builtin" or the binary's path, and the keeper
// remembers, per container, the runtime that started it for Exec, Pause,
// Resume and Delete. "builtin" is runtime/builtin whose child (container
// init and exec helper) is enginefs-init beside the keeper's executable, or
// the keeper's own executable when there is none (see NewRuntime); a path
// is runtime/oci with that binary.
//
// # Processes
//
// Without a terminal, a process gets pipes for stdout and stderr, and a
// pipe for stdin with OpenStdin (else /dev/null); with one (the spec's
// process.terminal), the runtime's console master carries both ways. One
// goroutine per output copies it into the log, borrowing a buffer only
// while data is ready; the stream of a terminal is stdout. Once the process
// has exited and its output is drained (EOF on every output, or 2 seconds
// after the exit if a background process still holds them), the keeper
// writes the log's End record and keeps the exit status until Forget; Wait
// answers at once for a process that has exited.
//
// # Idle exit
//
// The keeper exits once it has no live process, no exit status not yet
// forgotten, no start in progress and no client connection, for
// Config.Idle (--idle, default 2 seconds); it removes its socket and its pid
// file. So a daemon that removes all its containers and stops leaves no
// keeper behind, and a daemon that stops with containers running leaves the
// keeper to them.
package keeper
