package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/eventstore"
	"github.com/videologue/videologue/eventstore/pebble"
	pkeys "github.com/videologue/videologue/personal/pebble"
)

// adminSocket is the name, in the data directory of a server on the
// embedded log, of the unix socket through which the command-line tools
// reach the running server. The log and the read models are locked to
// the server's process; the tools send it their command line instead, and
// it runs the command against its open stores and streams back the
// output. The socket's mode (0600) keeps it to the operator who runs the
// server: it is never on the TCP listener.
const adminSocket = "admin.sock"

// adminCommands are the commands the admin socket runs.
var adminCommands = map[string]bool{"users": true, "audit": true, "replay": true, "projections": true, "backup": true}

// serverEnv is the running server, as a command run through the admin
// socket sees it: it borrows these instead of opening the stores.
type serverEnv struct {
	store      eventstore.Store // the instrumented log; a command never closes it
	embedded   *pebble.Store    // the embedded log, for backups
	keys       *pkeys.Store     // the embedded key store, for backups
	accounts   *accounts.Service
	readModels *ReadModels
}

type serverEnvKey struct{}

// inServer returns ctx carrying env, for a command run inside the server.
func inServer(ctx context.Context, env *serverEnv) context.Context {
	return context.WithValue(ctx, serverEnvKey{}, env)
}

// serverFrom returns the server a command runs inside, or nil when it
// runs in its own process.
func serverFrom(ctx context.Context) *serverEnv {
	env, _ := ctx.Value(serverEnvKey{}).(*serverEnv)
	return env
}

// borrowedStore is the server's log lent to a command: closing it is a
// no-op, the server closes it.
type borrowedStore struct{ eventstore.Store }

func (borrowedStore) Close() error { return nil }

// errForward is returned by a command that found a server answering on
// the admin socket of its data directory: run sends the command line
// there instead (args, when set, in place of the one given).
type errForward struct {
	socket string
	args   []string
}

func (e *errForward) Error() string { return "a server runs on this data directory: " + e.socket }

// serverAnswers reports whether a server answers on the admin socket of
// data. A socket left by a crashed server refuses the connection; one
// this user may not open is an error that says so.
func serverAnswers(ctx context.Context, data string) (string, bool, error) {
	sock := filepath.Join(data, adminSocket)
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "unix", sock)
	if errors.Is(err, fs.ErrPermission) {
		return sock, false, fmt.Errorf("the server's admin socket %s: %w (run this as the user the server runs as)", sock, err)
	}
	if err != nil {
		return sock, false, nil
	}
	c.Close()
	return sock, true, nil
}

// startAdmin opens the admin socket of the embedded log, once this
// process holds the log's lock: a second server on the same directory
// fails before it, and never takes the socket of the first. A shared
// store has no lock to get around: the tools open it themselves.
func (m *Main) startAdmin(store eventstore.Store) {
	if m.Config.Store.Shared() {
		return
	}
	embedded, _ := m.Store.(*pebble.Store)
	env := &serverEnv{store: store, embedded: embedded, keys: m.keysDB, accounts: m.Accounts, readModels: m.ReadModels}
	var err error
	if m.admin, err = startAdmin(m.Config.Data, env, m.Logger); err != nil {
		// The site serves without it; only the tools are refused.
		m.Logger.Warn("no admin socket: the command-line tools cannot reach this server", "err", err)
	}
}

// adminRequest is the body of POST /run on the admin socket.
type adminRequest struct {
	Args []string `json:"args"`
}

// The response to /run is a stream of frames: a kind byte, a 4-byte big
// endian length, and that many bytes. The last frame is frameExit, whose
// payload is the exit code (4 bytes).
const (
	frameStdout = 'o'
	frameStderr = 'e'
	frameExit   = 'x'
	maxFrame    = 1 << 20
)

// adminServer serves the admin socket until closed.
type adminServer struct {
	path   string
	ln     net.Listener
	srv    *http.Server
	cancel context.CancelFunc // ends the commands under way
	done   chan struct{}
}

// startAdmin listens on the admin socket of data and serves env's
// commands on it. The socket is bound in a fresh directory of mode 0700,
// made 0600, and only then renamed into place, over a stale one a crash
// left: no other user can connect in between.
func startAdmin(data string, env *serverEnv, logger *slog.Logger) (*adminServer, error) {
	path := filepath.Join(data, adminSocket)
	tmp, err := os.MkdirTemp(data, ".adm")
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	defer os.RemoveAll(tmp)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(tmp, adminSocket), Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	ln.SetUnlinkOnClose(false) // it is unlinked at its final path, by Close
	err = os.Chmod(filepath.Join(tmp, adminSocket), 0o600)
	if err == nil {
		err = os.Rename(filepath.Join(tmp, adminSocket), path)
	}
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &adminServer{path: path, ln: ln, cancel: cancel, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /run", func(w http.ResponseWriter, r *http.Request) { a.run(w, r, env) })
	a.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin socket stopped", "err", err)
		}
	}()
	return a, nil
}

// Close ends the commands under way, stops serving, and removes the
// socket.
func (a *adminServer) Close() {
	a.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = a.srv.Shutdown(ctx)
	<-a.done
	_ = os.Remove(a.path)
}

// run runs one command line inside the server and streams its output.
func (a *adminServer) run(w http.ResponseWriter, r *http.Request, env *serverEnv) {
	var req adminRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(req.Args) == 0 || !adminCommands[req.Args[0]] {
		http.Error(w, "the admin socket runs users, audit, replay, projections and backup", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	fw := &frameWriter{w: w, rc: http.NewResponseController(w)}
	code := run(inServer(r.Context(), env), req.Args, fw.stream(frameStdout), fw.stream(frameStderr))
	fw.exit(code)
}

// frameWriter writes stdout and stderr as frames to one response.
type frameWriter struct {
	mu  sync.Mutex
	w   io.Writer
	rc  *http.ResponseController
	err error
}

func (f *frameWriter) write(kind byte, p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for n := 0; n < len(p); {
		chunk := p[n:min(len(p), n+maxFrame)]
		f.frame(kind, chunk)
		n += len(chunk)
	}
	if kind == frameStderr && f.err == nil {
		// Progress and errors are shown as they come; stdout flows as
		// the response's buffer fills.
		f.err = f.rc.Flush()
	}
	if f.err != nil {
		return 0, f.err
	}
	return len(p), nil
}

func (f *frameWriter) frame(kind byte, p []byte) {
	if f.err != nil {
		return
	}
	hdr := binary.BigEndian.AppendUint32([]byte{kind}, uint32(len(p)))
	if _, f.err = f.w.Write(hdr); f.err == nil {
		_, f.err = f.w.Write(p)
	}
}

func (f *frameWriter) exit(code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.frame(frameExit, binary.BigEndian.AppendUint32(nil, uint32(code)))
}

type frameStream struct {
	f    *frameWriter
	kind byte
}

func (s frameStream) Write(p []byte) (int, error) { return s.f.write(s.kind, p) }

func (f *frameWriter) stream(kind byte) io.Writer { return frameStream{f, kind} }

// forward runs args on the server answering on sock, copies its output
// to stdout and stderr, and returns its exit code.
func forward(ctx context.Context, sock string, args []string, stdout, stderr io.Writer) (int, error) {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	defer client.CloseIdleConnections()
	body, _ := json.Marshal(adminRequest{Args: args})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://admin/run", bytes.NewReader(body))
	if err != nil {
		return 1, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 1, fmt.Errorf("the server on %s: %w", sock, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 1, fmt.Errorf("the server on %s: %s", sock, msg)
	}
	var hdr [5]byte
	buf := make([]byte, 0, 64<<10)
	for {
		if _, err := io.ReadFull(resp.Body, hdr[:]); err != nil {
			return 1, fmt.Errorf("the server on %s stopped before the command finished: %w", sock, err)
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		if n > maxFrame {
			return 1, fmt.Errorf("the server on %s sent a frame of %d bytes", sock, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return 1, fmt.Errorf("the server on %s stopped before the command finished: %w", sock, err)
		}
		switch hdr[0] {
		case frameStdout:
			if _, err := stdout.Write(buf); err != nil {
				return 1, err
			}
		case frameStderr:
			_, _ = stderr.Write(buf)
		case frameExit:
			if n != 4 {
				return 1, fmt.Errorf("the server on %s sent a bad exit frame", sock)
			}
			return int(int32(binary.BigEndian.Uint32(buf))), nil
		default:
			return 1, fmt.Errorf("the server on %s sent a frame of kind %q", sock, hdr[0])
		}
	}
}
